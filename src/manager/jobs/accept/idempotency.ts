/**
 * Accepting under an Idempotency-Key: the key is claimed with a hash of the request, a key
 * seen before replays the job it created first (putting it back in the queue, or kicking it
 * off its accept hold, if it never got further), and a key that comes back with another
 * request is IDEMPOTENCY_KEY_REUSED. Recording and queueing is record-and-queue.ts's.
 */
import { createHash } from 'node:crypto';
import { AppError, ErrorCode } from '../../../errors.js';
import { putAgain, releaseHold } from '../../../jobs/queue-copy.js';
import type { Logger } from '../../../log.js';
import type { QueueSet } from '../../../queue/index.js';
import { isStoreUnavailable, type JobDocument, type Store } from '../../../store/index.js';
import type { JobInspector } from '../read/inspect.js';
import type { AcceptedJob } from '../read/views.js';
import type { RequestedJob } from './options.js';

/** An accepted job; `replayed`: the job an Idempotency-Key created first, not a new one. */
export type AcceptResult = AcceptedJob & { replayed: boolean };

/**
 * Accept's record-and-queue under `id`. `finishing`: the id is another request's, whose
 * claim on the key is all we found; `recordedElsewhere` when that request recorded the job
 * first (its answer is then the replay's).
 */
export type RecordAndQueue = (
  id: string,
  request: RequestedJob,
  payload: { text: string; bytes: number },
  keyHash: string,
  finishing: boolean,
) => Promise<{ accepted: AcceptResult; recordedElsewhere: boolean }>;

export interface IdempotencyDeps {
  queue: QueueSet;
  store: Store;
  log: Logger;
  tubePrefix: string;
  /** How long an Idempotency-Key keeps answering with its first job. */
  idempotencyTtlMs: number;
  inspector: JobInspector;
  recordAndQueue: RecordAndQueue;
}

/** Keys are stored hashed: a client's key may be something it would rather not leave in our database. */
export function hashIdempotencyKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * What an Idempotency-Key promises to repeat: the type, the options and parameters that
 * shape the job, and the payload's exact text (what gets stored, and hashed).
 */
function hashJobRequest(request: RequestedJob, payloadText: string): string {
  const { type, options, params, callbackUrl, flow } = request;
  const shape = [
    type,
    options.priority,
    options.delay,
    options.ttr,
    options.maxAttempts,
    Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    // Only when given: keys claimed before callback URLs existed keep their hash.
    ...(callbackUrl !== undefined ? [callbackUrl] : []),
    // An object, never a string: a flow cannot hash like a callback URL.
    ...(flow !== undefined ? [{ dependsOn: flow.dependsOn, onParentFailure: flow.onParentFailure }] : []),
  ];
  return createHash('sha256').update(JSON.stringify(shape)).update('\n').update(payloadText).digest('hex');
}

/** Accept under an Idempotency-Key, as a function of (fresh id, request, payload, key). */
export function createIdempotentAccept(deps: IdempotencyDeps) {
  const { queue, store, log } = deps;

  /** A replayed key's job: shown as it is now, and put back in the queue if it never got there. */
  async function replay(id: string, job: JobDocument): Promise<AcceptResult> {
    const { view, live } = await deps.inspector.inspect(id, false);
    const createdAt = job.createdAt.toISOString();
    if (view && view.queue === null) {
      log.info({ jobId: id }, 'replayed job had no queue copy; putting it again');
      const { delay } = await putAgain(queue, store, job, deps.tubePrefix);
      return { id, state: delay > 0 ? 'delayed' : 'queued', type: job.type, createdAt, replayed: true };
    }
    if (live && (await releaseHold(live.queue, job, live))) {
      log.info({ jobId: id }, 'replayed job was still on hold; kicked it');
      return { id, state: 'queued', type: job.type, createdAt, replayed: true };
    }
    const state = view?.state ?? 'queued';
    return { id, state, type: job.type, createdAt, replayed: true };
  }

  /** Accept under a key's hash (one at a time per key in this process). */
  async function acceptWithKey(
    fresh: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
    keyHash: string,
  ): Promise<AcceptResult> {
    const requestHash = hashJobRequest(request, payload.text);
    let id = fresh;
    let finishing = false;
    const claim = await store.claimIdempotencyKey(
      keyHash,
      id,
      new Date(),
      deps.idempotencyTtlMs,
      requestHash,
    );
    if (!claim.claimed) {
      // Keys claimed before requests were hashed carry none: they replay as they did.
      if (claim.request !== undefined && claim.request !== requestHash) {
        throw new AppError(
          ErrorCode.IDEMPOTENCY_KEY_REUSED,
          'this Idempotency-Key came first with another request (body, type or options); use a new key for a new job',
        );
      }
      const job = await store.findJob(claim.jobId);
      if (job) return await replay(claim.jobId, job);
      // The request that claimed the key has not recorded its job (it died, or another
      // manager is between the two): record it under that request's id.
      id = claim.jobId;
      finishing = true;
    }
    try {
      const { accepted, recordedElsewhere } = await deps.recordAndQueue(
        id,
        request,
        payload,
        keyHash,
        finishing,
      );
      if (recordedElsewhere) {
        const job = await store.findJob(id);
        if (job) return await replay(id, job);
      }
      return accepted;
    } catch (error: unknown) {
      // Nothing was accepted: let the client's retry start afresh — only when that is sure.
      // A store failure may hide an insert that landed (its answer lost, or still on its
      // way), and so may a record whose removal failed: the key stays claimed, and the
      // client's retry finishes that same job under this id ("finishing" above).
      if (!isStoreUnavailable(error) && (await store.findJob(id).catch(() => undefined)) === null) {
        await store.releaseIdempotencyKey(keyHash, id).catch(() => undefined);
      }
      throw error;
    }
  }

  /** Accepts with a key under way in this process, by key hash. */
  const acceptsByKey = new Map<string, Promise<AcceptResult>>();

  return async function acceptOnce(
    id: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
    idempotencyKey: string,
  ): Promise<AcceptResult> {
    // One request per key at a time in this process: the others wait for it and replay
    // its job. Unserialized, a replay that came between the first request's insert and its
    // put found no queue copy and put one (20 POSTs with one key made up to 20 copies).
    const keyHash = hashIdempotencyKey(idempotencyKey);
    const before = acceptsByKey.get(keyHash);
    const accepting = (before ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => acceptWithKey(id, request, payload, keyHash));
    acceptsByKey.set(keyHash, accepting);
    try {
      return await accepting;
    } finally {
      if (acceptsByKey.get(keyHash) === accepting) acceptsByKey.delete(keyHash);
    }
  };
}
