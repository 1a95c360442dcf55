/**
 * A job's copy in beanstalkd, built from its record in one place: the tube, the envelope
 * (src/jobs/envelope.ts) and the put options. Accept puts the first copy; retry, an
 * idempotent replay whose job never reached the queue, and the reconciler put it again
 * (`putAgain`). Every copy of a job carries the same type, payload, parameters, attempt
 * budget, group, priority and TTR; they differ only in the marks below and in the delay.
 */
import { encodeEnvelope } from '../../jobs/envelope.js';
import { isQueueError, type PutOptions, type QueueClient, QueueErrorCode } from '../../queue/index.js';
import type { JobDocument, Store } from '../../store/index.js';
import type { LiveCopy } from './queue-location.js';

/** What a copy needs to be put: where, what, how. */
export interface QueueCopy {
  tube: string;
  body: string;
  options: PutOptions;
}

/**
 * Which copy: the first one, put at accept (on an accept hold of `holdSeconds` when given), or
 * one put again at `now`. A copy put again starts a fresh attempt budget and keeps the job's
 * own schedule: it waits what is left of the job's delay, counted from its creation, so a
 * lost copy of a job delayed an hour does not wait another hour, and a retried job (whose
 * delay is long past) runs now.
 */
export type CopyKind = { first: true; holdSeconds?: number } | { again: true; now: Date };

/** Whole seconds left of the job's delay at `now` (beanstalkd counts in seconds). */
function delayLeft(job: JobDocument, now: Date): number {
  const runsAt = job.createdAt.getTime() + job.options.delay * 1000;
  return Math.max(0, Math.ceil((runsAt - now.getTime()) / 1000));
}

/** The job's copy of this kind: the one function that builds a beanstalkd body for a job. */
export function queueCopy(job: JobDocument, tubePrefix: string, kind: CopyKind): QueueCopy {
  const held = 'first' in kind && kind.holdSeconds !== undefined && kind.holdSeconds > 0;
  const again = 'again' in kind;
  const body = encodeEnvelope({
    id: job._id,
    type: job.type,
    payload: job.payload,
    maxAttempts: job.options.maxAttempts,
    ...(job.params && Object.keys(job.params).length > 0 ? { params: job.params } : {}),
    ...(held ? { held: true } : {}),
    ...(again ? { requeued: true } : {}),
    ...(job.group !== undefined ? { group: job.group } : {}),
  });
  const delay = again ? delayLeft(job, kind.now) : held ? (kind.holdSeconds ?? 0) : job.options.delay;
  return {
    tube: `${tubePrefix}${job.type}`,
    body,
    options: { priority: job.options.priority, delay, ttr: job.options.ttr },
  };
}

/**
 * Bytes of the job's largest copy: one put again (its `requeued` mark is longer than an
 * accept hold's `held`). Accept refuses a job unless this fits beanstalkd's max-job-size, so
 * every copy the job will ever need fits too: a job accepted at the very edge could otherwise
 * never be retried or put back by the reconciler (beanstalkd answers JOB_TOO_BIG).
 */
export function largestCopyBytes(job: JobDocument): number {
  return Buffer.byteLength(queueCopy(job, '', { again: true, now: job.createdAt }).body);
}

/**
 * Puts a recorded job into beanstalkd again and notes where; a fresh copy starts with no
 * reserves. Answers the copy's beanstalkd id and its delay (what is left of the job's own).
 */
export async function putAgain(
  queue: QueueClient,
  store: Store,
  job: JobDocument,
  tubePrefix: string,
): Promise<{ beanstalkId: string; delay: number }> {
  const { tube, body, options } = queueCopy(job, tubePrefix, { again: true, now: new Date() });
  const beanstalkId = await queue.put(tube, body, options);
  await store.replaceQueueRef({ _id: job._id, server: queue.server, beanstalkId, tube, putAt: new Date() });
  return { beanstalkId, delay: options.delay };
}

/**
 * Kicks a copy still on the hold it was put with: its manager died or gave up between put
 * and kick (manager/jobs/accept.ts), and it would otherwise wait out the whole hold. Used by an
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
