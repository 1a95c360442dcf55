/**
 * Puts a recorded job into beanstalkd again and notes where: used by retry, by an
 * idempotent replay whose job never reached the queue, and by the reconciler. A fresh copy
 * starts with no reserves, so its attempt budget starts again.
 */
import { encodeEnvelope } from '../jobs/envelope.js';
import type { QueueClient } from '../queue/index.js';
import type { JobDocument, Store } from '../store/index.js';

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
  });
  const beanstalkId = await queue.put(tube, body, job.options);
  await store.replaceQueueRef({ _id: job._id, server: queue.server, beanstalkId, tube, putAt: new Date() });
  return beanstalkId;
}
