/**
 * Puts a recorded job into beanstalkd again and notes where: used by retry, by an
 * idempotent replay whose job never reached the queue, and by the reconciler. A fresh copy
 * starts with no reserves, so its attempt budget starts again.
 */
import { encodeEnvelope } from '../jobs/envelope.js';
import { isQueueError, type QueueClient, QueueErrorCode } from '../queue/index.js';
import type { JobDocument, Store } from '../store/index.js';
import type { LiveCopy } from './queue-location.js';

export async function putAgain(
  queue: QueueClient,
  store: Store,
  job: JobDocument,
  tubePrefix: string,
): Promise<string> {
  const tube = `${tubePrefix}${job.type}`;
  const body = encodeEnvelope({
    id: job._id,
    type: job.type,
    payload: job.payload,
    maxAttempts: job.options.maxAttempts,
    ...(job.params && Object.keys(job.params).length > 0 ? { params: job.params } : {}),
    requeued: true,
    ...(job.group !== undefined ? { group: job.group } : {}),
  });
  const beanstalkId = await queue.put(tube, body, job.options);
  await store.replaceQueueRef({ _id: job._id, server: queue.server, beanstalkId, tube, putAt: new Date() });
  return beanstalkId;
}

/**
 * Kicks a copy still on the hold it was put with: its manager died or gave up between put
 * and kick (job-service.ts), and it would otherwise wait out the whole hold. Used by an
 * idempotent replay and by the reconciler. True if it was kicked.
 */
export async function releaseHold(queue: QueueClient, job: JobDocument, live: LiveCopy): Promise<boolean> {
  if (job.options.delay > 0 || live.stats.state !== 'delayed' || live.stats.kicks > 0) return false;
  if (!live.envelope.held) return false;
  try {
    await queue.kickJob(live.stats.id);
    return true;
  } catch (error: unknown) {
    // Gone or reserved meanwhile: nothing left to release.
    if (isQueueError(error, QueueErrorCode.NOT_FOUND)) return false;
    throw error;
  }
}
