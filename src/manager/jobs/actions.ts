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
import { isQueueError, type QueueClient, QueueErrorCode } from '../../queue/index.js';
import {
  Outcome,
  type QueueLocation,
  RESULT_PAYLOAD_BYTES,
  type ResultDocument,
  type Store,
} from '../../store/index.js';
import { deliveryEnqueuer } from '../../webhooks/enqueue.js';
import { createBulkActions } from './bulk-actions.js';
import { findLiveCopy, queueLocation } from './queue-location.js';
import type { JobState } from './views.js';

export interface JobActionDeps {
  queue: QueueClient;
  store: Store;
  log: Logger;
  tubePrefix: string;
  /** Counts the cancellations this manager stores (jobs/tally.ts). */
  tally: Tally;
  /** beanstalkd's max-job-size as last read: a retry whose copy would not fit changes nothing. */
  maxJobSize: () => number;
}

/** How long a cancel waits for its count to be committed before it answers anyway. */
const COUNT_WAIT_MS = 2000;

export function createJobActions(deps: JobActionDeps) {
  const { queue, store, log } = deps;
  const enqueueDelivery = deliveryEnqueuer(queue, deps.tubePrefix);

  /** Deletes the job's copy in beanstalkd if it is really this job's; a copy a worker holds stays. */
  async function dropQueueCopy(id: string, location: QueueLocation | null): Promise<void> {
    const live = await findLiveCopy(queue, id, location);
    if (!live) return;
    try {
      await queue.deleteJob(live.stats.id);
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
    return { id, state: 'queued' as const };
  }

  return {
    /** Cancels a job that has not completed: queued, delayed, running or failed. */
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
      const now = new Date();
      const type = job?.type ?? result?.type ?? 'unknown';
      const cancelled = (tally: ResultDocument['tally']): ResultDocument => ({
        _id: id,
        type,
        outcome: Outcome.CANCELLED,
        worker: 'manager',
        attempt: result?.attempt ?? 0,
        startedAt: now,
        finishedAt: now,
        durationMs: 0,
        ...(tally ? { tally } : {}),
        ...(job?.group !== undefined ? { group: job.group } : {}),
        ...(job?.callback !== undefined ? { webhook: true } : {}),
        ...(job && Buffer.byteLength(job.payload) <= RESULT_PAYLOAD_BYTES ? { payload: job.payload } : {}),
      });
      // The webhook is announced before anything changes, so no crash loses it: it goes out
      // once this very outcome is stored (and is dropped if it never is). Refused: a 503, and
      // nothing changed.
      if (job?.callback !== undefined)
        await enqueueDelivery(cancelled(undefined), job.callback, { confirm: true });
      if (result) await store.deleteResult(id, Outcome.FAILED);
      const k = deps.tally.tag();
      let stored: Awaited<ReturnType<Store['saveResult']>>;
      try {
        stored = await store.saveResult(cancelled({ w: deps.tally.id, k }));
      } catch (error: unknown) {
        // It may have landed all the same: a client's retry finds it (below) and counts it.
        deps.tally.settle(k, undefined, undefined, id);
        throw error;
      }
      if (stored === 'duplicate') {
        const winner = await store.findResult(id);
        // Our own cancel, landed on an earlier try of the insert whose answer was lost.
        if (
          winner?.tally?.w === deps.tally.id &&
          winner.tally.k === k &&
          winner.startedAt.getTime() === now.getTime()
        ) {
          stored = 'inserted';
        }
      }
      if (stored === 'duplicate') {
        const winner = await store.findResult(id);
        // Stored by someone whose tally may not have counted it (their write failed unanswered,
        // or they died first): a maybe, decided by the fold like a worker's.
        const maybe =
          winner?.tally !== undefined
            ? { job: id, ...winner.tally, type: winner.type, outcome: winner.outcome, at: new Date() }
            : undefined;
        deps.tally.settle(k, undefined, maybe);
        throw new AppError(
          ErrorCode.JOB_NOT_CANCELLABLE,
          `job ${id} finished first (${winner?.outcome ?? 'unknown'})`,
        );
      }
      deps.tally.settle(k, {
        type,
        outcome: Outcome.CANCELLED,
        _id: id,
        finishedAt: now,
        ...(job?.group !== undefined ? { group: job.group } : {}),
      });
      // Answer once it is counted (a commit, a fraction of a second), unless the store is slow.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        deps.tally.committed(k).catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, COUNT_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      log.info({ jobId: id }, 'job cancelled');
      if (job?.group !== undefined) {
        await store.markGroupJob(job.group, { id, state: Outcome.CANCELLED, at: now, startedAt: now });
      }
      await store.markState('cancelled', {
        id,
        state: Outcome.CANCELLED,
        at: now,
        type,
        ...(job?.group !== undefined ? { group: job.group } : {}),
      });
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
