/**
 * Accepting a job and reading one back, over the two adapters.
 *
 * Order on accept: insert the record, then put, then note where it was put. Insert first so
 * nothing can run that is not recorded: a job put first could be run by a worker and leave a
 * result for a job the client never saw accepted, if the manager died before the insert.
 * The window this order leaves — recorded but not queued — is closed by compensation (a
 * failed put deletes the record before the 503) and, when even that fails, by the record
 * staying behind with no outcome and no queue copy, which GET reports and the reconciler
 * puts again. Duplicate deliveries that this may cause are harmless: one outcome per job.
 */
import { createHash } from 'node:crypto';
import { AppError, ErrorCode } from '../errors.js';
import { decodeEnvelope, encodeEnvelope } from '../jobs/envelope.js';
import { newJobId } from '../jobs/job-id.js';
import type { Logger } from '../log.js';
import { isQueueError, isQueueUnavailable, type QueueClient, QueueErrorCode } from '../queue/index.js';
import { isStoreUnavailable, type JobDocument, type JobOptions, type Store } from '../store/index.js';
import type { RequestedJob } from './job-options.js';
import {
  type AcceptedJob,
  attemptViews,
  type JobView,
  liveView,
  resultView,
  STATE_OF_QUEUE,
} from './job-views.js';
import { putAgain } from './requeue.js';

export interface JobServiceDeps {
  queue: QueueClient;
  store: Store;
  log: Logger;
  tubePrefix: string;
  defaultOptions: JobOptions;
  /** beanstalkd's max-job-size as last read from the server. */
  maxJobSize: () => number;
  /** How long an Idempotency-Key keeps answering with its first job. */
  idempotencyTtlMs: number;
}

/** Maps backend failures to the 503s clients see; everything else passes through. */
export function toServiceError(error: unknown): unknown {
  if (isStoreUnavailable(error)) {
    return new AppError(ErrorCode.STORE_UNAVAILABLE, 'MongoDB is unavailable; try again', { cause: error });
  }
  if (isQueueUnavailable(error)) {
    return new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'beanstalkd is unavailable; try again', {
      cause: error,
    });
  }
  return error;
}

/** Keys are stored hashed: a client's key may be something it would rather not leave in our database. */
export function hashIdempotencyKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export type AcceptResult = AcceptedJob & { replayed: boolean };

export function createJobService(deps: JobServiceDeps) {
  const { queue, store, log } = deps;

  async function undoRecord(id: string, reason: unknown): Promise<void> {
    try {
      await store.deleteJob(id);
    } catch (error: unknown) {
      // The record stays without a queue copy: GET reports it, the reconciler puts it again.
      log.error(
        { jobId: id, err: error, reason: String(reason) },
        'job recorded but not queued, and the record could not be removed',
      );
    }
  }

  /** Records and queues one job under `id`; resolves only when both MongoDB and beanstalkd have it. */
  async function recordAndQueue(
    id: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
  ): Promise<AcceptedJob> {
    const createdAt = new Date();
    const { type, options, params } = request;
    const hasParams = Object.keys(params).length > 0;
    const body = encodeEnvelope({
      id,
      type,
      payload: payload.text,
      maxAttempts: options.maxAttempts,
      ...(hasParams ? { params } : {}),
    });
    const size = Buffer.byteLength(body);
    const limit = deps.maxJobSize();
    if (size > limit) {
      throw new AppError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `the job is ${size} bytes once queued; beanstalkd accepts at most ${limit} (max-job-size)`,
      );
    }
    const tube = `${deps.tubePrefix}${type}`;
    try {
      await store.insertJob({
        _id: id,
        type,
        payload: payload.text,
        bytes: payload.bytes,
        options,
        ...(hasParams ? { params: { ...params } } : {}),
        ...(request.matrix
          ? { group: request.matrix.group, combination: { ...request.matrix.combination } }
          : {}),
        createdAt,
      });
    } catch (error: unknown) {
      throw toServiceError(error);
    }
    let beanstalkId: string;
    try {
      beanstalkId = await queue.put(tube, body, options);
    } catch (error: unknown) {
      if (isQueueError(error, QueueErrorCode.PUT_BURIED) && error.jobId !== undefined) {
        await queue.deleteJob(error.jobId).catch(() => undefined);
      }
      await undoRecord(id, error);
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
    try {
      await store.insertQueueRef({ _id: id, server: queue.server, beanstalkId, tube, putAt: new Date() });
    } catch (error: unknown) {
      // Accepted all the same: recorded and queued. Without the ref GET cannot show live fields.
      log.warn({ jobId: id, err: error }, 'job queued but its queue reference was not stored');
    }
    return { id, state: options.delay > 0 ? 'delayed' : 'queued', type, createdAt: createdAt.toISOString() };
  }

  /** A replayed key's job: shown as it is now, and put back in the queue if it never got there. */
  async function replay(id: string, job: JobDocument): Promise<AcceptResult> {
    const view = await get(id);
    if (view && view.queue === null) {
      log.info({ jobId: id }, 'replayed job had no queue copy; putting it again');
      await putAgain(queue, store, job, deps.tubePrefix);
      return { id, state: 'queued', type: job.type, createdAt: job.createdAt.toISOString(), replayed: true };
    }
    const state = view?.state ?? 'queued';
    return { id, state, type: job.type, createdAt: job.createdAt.toISOString(), replayed: true };
  }

  async function get(id: string): Promise<JobView | null> {
    // The outcome first: a finished job (the common case) needs no queue reference, and each
    // point read on FerretDB scans its collection (`npm run bench`, GET /jobs/:id).
    const result = await store.findResult(id);
    if (result) {
      const [job, attempts] = await Promise.all([store.findJob(id), store.findAttempts(id)]);
      return resultView(job, result, attempts);
    }
    const [job, ref, attempts] = await Promise.all([
      store.findJob(id),
      store.findQueueRef(id),
      store.findAttempts(id),
    ]);
    if (!job) return null;
    const base = {
      id,
      type: job.type,
      createdAt: job.createdAt.toISOString(),
      maxAttempts: job.options.maxAttempts,
      ...(attempts.length > 0 ? { errors: attemptViews(attempts) } : {}),
    };
    if (ref && ref.server === queue.server) {
      const live = await queue.inspectJob(ref.beanstalkId);
      // beanstalkd ids repeat after restarts: trust the id only if the body says it is this job.
      if (live && decodeEnvelope(live.body)?.id === id) {
        return {
          ...base,
          state: STATE_OF_QUEUE[live.stats.state],
          attempts: live.stats.reserves,
          queue: liveView(live.stats),
        };
      }
      // Gone from beanstalkd: it may have finished between our reads.
      const late = await store.findResult(id);
      if (late) return resultView(job, late, attempts);
    }
    return { ...base, state: 'queued', attempts: attempts.length, queue: null };
  }

  return {
    /**
     * Records and queues one job. With an idempotency key, a key seen before answers with the
     * job it created first (`replayed: true`) instead of creating another.
     */
    async accept(
      request: RequestedJob,
      payload: { text: string; bytes: number },
      idempotencyKey?: string,
    ): Promise<AcceptResult> {
      let id = newJobId();
      if (idempotencyKey === undefined)
        return { ...(await recordAndQueue(id, request, payload)), replayed: false };
      const keyHash = hashIdempotencyKey(idempotencyKey);
      try {
        const claim = await store.claimIdempotencyKey(keyHash, id, new Date(), deps.idempotencyTtlMs);
        if (!claim.claimed) {
          const job = await store.findJob(claim.jobId);
          if (job) return await replay(claim.jobId, job);
          // The first request claimed the key and died before recording its job: finish it.
          id = claim.jobId;
        }
      } catch (error: unknown) {
        throw toServiceError(error);
      }
      try {
        return { ...(await recordAndQueue(id, request, payload)), replayed: false };
      } catch (error: unknown) {
        // Nothing was accepted: let the client's retry start afresh.
        await store.releaseIdempotencyKey(keyHash, id).catch(() => undefined);
        throw error;
      }
    },

    /** The job's state: its outcome if it has one, else beanstalkd's live view. Null if unknown. */
    async get(id: string): Promise<JobView | null> {
      try {
        return await get(id);
      } catch (error: unknown) {
        throw toServiceError(error);
      }
    },
  };
}

export type JobService = ReturnType<typeof createJobService>;
