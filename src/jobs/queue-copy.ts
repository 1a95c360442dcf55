/**
 * A job's copy in beanstalkd, owned here alone: the tube's name (`tubeName`, and back again
 * with `typeOfTube`), the body built from the job's record (the envelope, jobs/envelope.ts),
 * the put options, and the writes that put, hold and kick it. Accept puts the first copy
 * (manager/jobs/accept/record-and-queue.ts, "Order on accept"); retry, an idempotent replay whose job never
 * reached the queue, and the reconciler put it again (`putAgain`); a replay and the
 * reconciler kick a copy a dead manager left on its accept hold (`releaseHold`). Every copy
 * of a job carries the same type, payload, parameters, attempt budget, group, priority and
 * TTR; they differ only in the marks below and in the delay. The worker names its tubes here
 * too, so this module imports nothing from the manager.
 */
import { AppError, ErrorCode } from '../errors.js';
import { JOB_TYPE } from '../handlers/index.js';
import {
  isQueueError,
  type Placed,
  type PutOptions,
  type QueueClient,
  type QueuedJob,
  QueueErrorCode,
  type QueueSet,
} from '../queue/index.js';
import type { JobDocument, Store } from '../store/index.js';
import { type Envelope, encodeEnvelope } from './envelope.js';

/** The tube a job type's copies go to: the one place a tube name is built. */
export function tubeName(prefix: string, type: string): string {
  return `${prefix}${type}`;
}

/**
 * The job type a tube carries (tubeName read back), or null when the tube is not a job type's:
 * not ours, or ours but no type's name (the webhook deliveries' `<prefix>_webhooks`).
 */
export function typeOfTube(tube: string, prefix: string): string | null {
  if (!tube.startsWith(prefix) || tube.length === prefix.length) return null;
  // Without a prefix every tube is ours except beanstalkd's own `default`.
  if (prefix === '' && tube === 'default') return null;
  const type = tube.slice(prefix.length);
  return JOB_TYPE.test(type) ? type : null;
}

/**
 * The flows' tube, after the tube prefix: waiters of jobs with `depends_on` (docs/flows-design.md).
 * It starts with `_` like `<prefix>_webhooks`, so `typeOfTube` reads no job type from it.
 */
export const FLOW_TUBE_NAME = '_flows';

export function flowTube(prefix: string): string {
  return `${prefix}${FLOW_TUBE_NAME}`;
}

/**
 * How long a released copy stays on hold if its flow loop dies before kicking it: long past
 * the queue ref's write, which the loop awaits before the kick (manager/background/flow-loop.ts).
 */
export const RELEASE_HOLD_SECONDS = 120;

/** A waiter's TTR at the least. */
export const WAITER_TTR_SECONDS = 300;

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
export type CopyKind =
  | { first: true; holdSeconds?: number }
  | { again: true; now: Date }
  | { released: true; requeued: boolean };

/**
 * A job with parents waits as a waiter in the flows' tube, first and whenever it is put again
 * (the flow loop puts its real copy, `released`, once its parents allow).
 */
function isWaiter(job: JobDocument, kind: CopyKind): boolean {
  return job.flow !== undefined && !('released' in kind);
}

/** Whole seconds left of the job's delay at `now` (beanstalkd counts in seconds). */
function delayLeft(job: JobDocument, now: Date): number {
  const runsAt = job.createdAt.getTime() + job.options.delay * 1000;
  return Math.max(0, Math.ceil((runsAt - now.getTime()) / 1000));
}

/** The job's copy of this kind: the one function that builds a beanstalkd body for a job. */
export function queueCopy(job: JobDocument, tubePrefix: string, kind: CopyKind): QueueCopy {
  const waiter = isWaiter(job, kind);
  const released = 'released' in kind;
  const held = !waiter && 'first' in kind && kind.holdSeconds !== undefined && kind.holdSeconds > 0;
  const again = 'again' in kind || (released && kind.requeued);
  const body = encodeEnvelope({
    id: job._id,
    type: job.type,
    payload: job.payload,
    maxAttempts: job.options.maxAttempts,
    ...(job.params && Object.keys(job.params).length > 0 ? { params: job.params } : {}),
    ...(held ? { held: true } : {}),
    ...(again ? { requeued: true } : {}),
    ...(job.group !== undefined ? { group: job.group } : {}),
    ...(job.callback !== undefined ? { callback: job.callback } : {}),
    ...(job.schedule !== undefined ? { schedule: job.schedule } : {}),
    ...(job.flow !== undefined ? { flow: job.flow } : {}),
    ...(waiter ? { waiting: true } : {}),
    ...(released ? { released: true } : {}),
  });
  // A waiter waits out the job's own delay; its released copy is held until its ref is stored.
  const delay =
    'released' in kind
      ? RELEASE_HOLD_SECONDS
      : 'again' in kind
        ? delayLeft(job, kind.now)
        : held
          ? (kind.holdSeconds ?? 0)
          : job.options.delay;
  return {
    tube: waiter ? flowTube(tubePrefix) : tubeName(tubePrefix, job.type),
    body,
    // A waiter's holder only reads and puts: a long TTR keeps a slow store from handing it to a
    // second holder mid-look (docs/flows-design.md).
    options: {
      priority: job.options.priority,
      delay,
      ttr: waiter ? Math.max(job.options.ttr, WAITER_TTR_SECONDS) : job.options.ttr,
    },
  };
}

/**
 * Bytes of the job's largest copy: one put again (its `requeued` mark is longer than an
 * accept hold's `held`). Accept refuses a job unless this fits beanstalkd's max-job-size, so
 * every copy the job will ever need fits too: a job accepted at the very edge could otherwise
 * never be retried or put back by the reconciler (beanstalkd answers JOB_TOO_BIG).
 */
export function largestCopyBytes(job: JobDocument): number {
  const again = Buffer.byteLength(queueCopy(job, '', { again: true, now: job.createdAt }).body);
  if (job.flow === undefined) return again;
  return Math.max(again, Buffer.byteLength(queueCopy(job, '', { released: true, requeued: true }).body));
}

/** Bytes a mark adds to any body, measured on the envelope itself so that they follow its format. */
function markBytes(mark: Pick<Envelope, 'held' | 'requeued'>): number {
  const probe: Envelope = { id: '', type: '', payload: '', maxAttempts: 1 };
  return Buffer.byteLength(encodeEnvelope({ ...probe, ...mark })) - Buffer.byteLength(encodeEnvelope(probe));
}
const HELD_BYTES = markBytes({ held: true });
const REQUEUED_BYTES = markBytes({ requeued: true });

/**
 * The job's first copy, and the bytes of its largest copy (`largestCopyBytes`) without
 * encoding the payload again when the job has no parents: then its copies differ only by the
 * `held` and `requeued` marks (accept encodes each job's envelope once instead of twice).
 */
export function firstCopy(
  job: JobDocument,
  tubePrefix: string,
  kind: Extract<CopyKind, { first: true }>,
): { copy: QueueCopy; largestBytes: number } {
  const copy = queueCopy(job, tubePrefix, kind);
  if (job.flow !== undefined) return { copy, largestBytes: largestCopyBytes(job) };
  const held = kind.holdSeconds !== undefined && kind.holdSeconds > 0;
  return { copy, largestBytes: Buffer.byteLength(copy.body) - (held ? HELD_BYTES : 0) + REQUEUED_BYTES };
}

/**
 * Puts a copy on one of the set's servers (queue/queue-set.ts), with its failures in the
 * client's terms: PAYLOAD_TOO_LARGE for one over max-job-size, QUEUE_UNAVAILABLE for any other
 * beanstalkd failure (a BURIED put is removed again). Answers where it landed.
 */
export async function putCopy(queues: QueueSet, { tube, body, options }: QueueCopy): Promise<Placed> {
  try {
    return await queues.put(tube, body, options);
  } catch (error: unknown) {
    if (isQueueError(error, QueueErrorCode.JOB_TOO_BIG)) {
      throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, "the job is larger than beanstalkd's max-job-size", {
        cause: error,
      });
    }
    if (isQueueError(error)) {
      throw new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'beanstalkd did not take the job; try again', {
        cause: error,
      });
    }
    throw error;
  }
}

/** True when a putCopy failed after the put went out: beanstalkd may have queued the job. */
export function isPutInDoubt(error: unknown): boolean {
  const cause = error instanceof AppError ? error.cause : error;
  return isQueueError(cause) && cause.inDoubt;
}

/** Ends the accept hold of a copy put with one (`holdSeconds`): it is ready now. */
export async function kickHeld(queue: QueueClient, beanstalkId: string): Promise<void> {
  await queue.kickJob(beanstalkId);
}

/**
 * Puts a recorded job into beanstalkd again and notes where; a fresh copy starts with no
 * reserves. A job with parents is put back as a waiter: the flow loop judges its parents again
 * before its real copy is put (docs/flows-design.md). Answers the copy's beanstalkd id and its delay (what is left of the job's own).
 */
export async function putAgain(
  queues: QueueSet,
  store: Store,
  job: JobDocument,
  tubePrefix: string,
): Promise<Placed & { delay: number }> {
  const { tube, body, options } = queueCopy(job, tubePrefix, { again: true, now: new Date() });
  const placed = await queues.put(tube, body, options);
  await store.replaceQueueRef({ _id: job._id, ...placed, tube, putAt: new Date() });
  return { ...placed, delay: options.delay };
}

/**
 * Kicks a copy still on the hold it was put with: its manager died or gave up between put
 * and kick (manager/jobs/accept/record-and-queue.ts), and it would otherwise wait out the whole hold. Used by an
 * idempotent replay and by the reconciler, with the copy as found in beanstalkd. True if it
 * was kicked.
 */
export async function releaseHold(
  queue: QueueClient,
  job: JobDocument,
  live: QueuedJob & { envelope: Envelope },
): Promise<boolean> {
  if (job.options.delay > 0 || live.stats.state !== 'delayed' || live.stats.kicks > 0) return false;
  if (!live.envelope.held) return false;
  try {
    await kickHeld(queue, live.stats.id);
    return true;
  } catch (error: unknown) {
    // Gone or reserved meanwhile: nothing left to release.
    if (isQueueError(error, QueueErrorCode.NOT_FOUND)) return false;
    throw error;
  }
}
