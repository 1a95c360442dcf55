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
import { AppError, ErrorCode } from '../errors.js';
import { decodeEnvelope, encodeEnvelope } from '../jobs/envelope.js';
import { newJobId } from '../jobs/job-id.js';
import type { Logger } from '../log.js';
import {
  isQueueError,
  isQueueUnavailable,
  type JobStats,
  type QueueClient,
  QueueErrorCode,
} from '../queue/index.js';
import {
  isStoreUnavailable,
  type JobDocument,
  type JobOptions,
  type QueueRefDocument,
  type ResultDocument,
  type Store,
} from '../store/index.js';

export type JobState = 'queued' | 'delayed' | 'running' | 'buried' | 'completed' | 'failed' | 'cancelled';

export interface AcceptedJob {
  id: string;
  state: JobState;
  type: string;
  createdAt: string;
}

/** beanstalkd's live view of a job (FACTS.md field names, camelCase; seconds). */
export interface LiveQueueView {
  tube: string;
  priority: number;
  age: number;
  delay: number;
  ttr: number;
  timeLeft: number;
  reserves: number;
  timeouts: number;
  releases: number;
  buries: number;
  kicks: number;
}

export interface JobView {
  id: string;
  type: string;
  state: JobState;
  createdAt: string;
  attempts: number;
  /** While beanstalkd holds the job; null when it is recorded but beanstalkd has no copy. */
  queue?: LiveQueueView | null;
  result?: Record<string, unknown>;
  error?: { message: string };
  worker?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

export interface JobServiceDeps {
  queue: QueueClient;
  store: Store;
  log: Logger;
  tubePrefix: string;
  defaultOptions: JobOptions;
  /** beanstalkd's max-job-size as last read from the server. */
  maxJobSize: () => number;
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

const STATE_OF_QUEUE: Readonly<Record<JobStats['state'], JobState>> = {
  ready: 'queued',
  delayed: 'delayed',
  reserved: 'running',
  buried: 'buried',
};

function resultView(job: JobDocument | null, result: ResultDocument): JobView {
  return {
    id: result._id,
    type: result.type,
    state: result.outcome,
    createdAt: (job?.createdAt ?? result.startedAt).toISOString(),
    attempts: result.attempt,
    ...(result.result !== undefined ? { result: result.result } : {}),
    ...(result.error !== undefined ? { error: result.error } : {}),
    worker: result.worker,
    startedAt: result.startedAt.toISOString(),
    finishedAt: result.finishedAt.toISOString(),
    durationMs: result.durationMs,
  };
}

function liveView(stats: JobStats): LiveQueueView {
  const { tube, priority, age, delay, ttr, timeLeft, reserves, timeouts, releases, buries, kicks } = stats;
  return { tube, priority, age, delay, ttr, timeLeft, reserves, timeouts, releases, buries, kicks };
}

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

  return {
    /** Records and queues one job; resolves only when both MongoDB and beanstalkd have it. */
    async accept(type: string, payload: { text: string; bytes: number }): Promise<AcceptedJob> {
      const id = newJobId();
      const createdAt = new Date();
      const options = deps.defaultOptions;
      const body = encodeEnvelope({ id, type, payload: payload.text });
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
          throw new AppError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `the job is larger than beanstalkd's max-job-size`,
            {
              cause: error,
            },
          );
        }
        if (isQueueError(error)) {
          throw new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'beanstalkd did not take the job; try again', {
            cause: error,
          });
        }
        throw error;
      }
      const ref: QueueRefDocument = { _id: id, server: queue.server, beanstalkId, tube, putAt: new Date() };
      try {
        await store.insertQueueRef(ref);
      } catch (error: unknown) {
        // Accepted all the same: recorded and queued. Without the ref GET cannot show live fields.
        log.warn({ jobId: id, err: error }, 'job queued but its queue reference was not stored');
      }
      return {
        id,
        state: options.delay > 0 ? 'delayed' : 'queued',
        type,
        createdAt: createdAt.toISOString(),
      };
    },

    /** The job's state: its outcome if it has one, else beanstalkd's live view. Null if unknown. */
    async get(id: string): Promise<JobView | null> {
      try {
        const [result, job, ref] = await Promise.all([
          store.findResult(id),
          store.findJob(id),
          store.findQueueRef(id),
        ]);
        if (result) return resultView(job, result);
        if (!job) return null;
        const base = { id, type: job.type, createdAt: job.createdAt.toISOString() };
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
          if (late) return resultView(job, late);
        }
        return { ...base, state: 'queued', attempts: 0, queue: null };
      } catch (error: unknown) {
        throw toServiceError(error);
      }
    },
  };
}

export type JobService = ReturnType<typeof createJobService>;
