/**
 * Steering one job: cancel and retry. Both go through the one-outcome rule: a cancel is an
 * outcome inserted like any other, so a worker finishing at the same moment and the cancel
 * race on the same unique `_id`, and whichever lands first is the job's outcome. A type's
 * jobs all at once (retry-failed, kick) are bulk-actions.ts, over this retry.
 */
import { AppError, ErrorCode } from '../../errors.js';
import { largestCopyBytes, putAgain } from '../../jobs/queue-copy.js';
import type { Tally } from '../../jobs/tally.js';
import type { Logger } from '../../log.js';
import { isQueueError, QueueErrorCode, type QueueSet } from '../../queue/index.js';
import { Outcome, type QueueLocation, type Store } from '../../store/index.js';
import { createBulkActions } from './bulk-actions.js';
import { createManagerOutcomes } from './manager-outcome.js';
import { findLiveCopy, queueLocation } from './read/queue-location.js';
import type { JobState } from './read/views.js';

export interface JobActionDeps {
  queue: QueueSet;
  store: Store;
  log: Logger;
  tubePrefix: string;
  /** Counts the cancellations this manager stores (jobs/tally.ts). */
  tally: Tally;
  /** beanstalkd's max-job-size as last read: a retry whose copy would not fit changes nothing. */
  maxJobSize: () => number;
}

export function createJobActions(deps: JobActionDeps) {
  const { queue, store, log } = deps;
  const outcomes = createManagerOutcomes(deps);

  /** Deletes the job's copy in beanstalkd if it is really this job's; a copy a worker holds stays. */
  async function dropQueueCopy(id: string, location: QueueLocation | null): Promise<void> {
    const live = await findLiveCopy(queue, id, location);
    if (!live) return;
    try {
      await live.queue.deleteJob(live.stats.id);
    } catch (error: unknown) {
      // Reserved by a worker: it will find the outcome stored and delete the job itself.
      if (!isQueueError(error, QueueErrorCode.NOT_FOUND)) throw error;
    }
  }

  /** Brings a failed job back: its failed outcome removed, a fresh copy queued with a full attempt budget. */
  async function retry(id: string): Promise<{ id: string; state: JobState }> {
    const [result, job, ref] = await Promise.all([
      store.findResult(id),
      store.findJob(id),
      store.findQueueRef(id),
    ]);
    if (!job) throw new AppError(ErrorCode.NOT_FOUND, `no job ${id}`);
    if (result?.outcome !== Outcome.FAILED) {
      throw new AppError(
        ErrorCode.JOB_NOT_RETRYABLE,
        `job ${id} is ${result?.outcome ?? 'not finished'}; only failed jobs can be retried`,
      );
    }
    // Checked before anything changes: a job accepted under a larger max-job-size (beanstalkd
    // restarted with a smaller -z) would otherwise lose its failed outcome and never be queued.
    const bytes = largestCopyBytes(job);
    if (bytes > deps.maxJobSize()) {
      throw new AppError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `job ${id} needs ${bytes} bytes in beanstalkd, over its max-job-size of ${deps.maxJobSize()}; it stays failed`,
      );
    }
    if (!(await store.deleteResult(id, Outcome.FAILED))) {
      throw new AppError(ErrorCode.JOB_NOT_RETRYABLE, `job ${id} changed while retrying it; look again`);
    }
    await dropQueueCopy(id, queueLocation(job, ref));
    if (job.group !== undefined) await store.markGroupJob(job.group, { id, state: 'queued', at: new Date() });
    await putAgain(queue, store, job, deps.tubePrefix);
    log.info({ jobId: id }, 'job retried');
    // A flow's job waits for its parents again (its copy put again is a waiter).
    return { id, state: job.flow !== undefined ? ('waiting' as const) : ('queued' as const) };
  }

  return {
    /** Cancels a job that has not completed: waiting, queued, delayed, running or failed (manager-outcome.ts). */
    async cancel(id: string): Promise<{ id: string; state: JobState }> {
      const [result, job, ref] = await Promise.all([
        store.findResult(id),
        store.findJob(id),
        store.findQueueRef(id),
      ]);
      if (!result && !job) throw new AppError(ErrorCode.NOT_FOUND, `no job ${id}`);
      if (result && result.outcome !== Outcome.FAILED) {
        throw new AppError(
          ErrorCode.JOB_NOT_CANCELLABLE,
          `job ${id} is ${result.outcome}; only unfinished or failed jobs can be cancelled`,
        );
      }
      const ended = await outcomes.end(id, job, result, { outcome: Outcome.CANCELLED });
      if (!ended.stored) {
        throw new AppError(
          ErrorCode.JOB_NOT_CANCELLABLE,
          `job ${id} finished first (${ended.winner?.outcome ?? 'unknown'})`,
        );
      }
      log.info({ jobId: id }, 'job cancelled');
      await dropQueueCopy(id, queueLocation(job, ref)).catch((error: unknown) => {
        log.warn(
          { jobId: id, err: error },
          'cancelled, but its beanstalkd copy could not be removed; workers will skip it',
        );
      });
      return { id, state: 'cancelled' as const };
    },

    retry,
    ...createBulkActions({ ...deps, retry }),
  };
}
