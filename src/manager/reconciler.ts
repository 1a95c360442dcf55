/**
 * Finds jobs that are recorded, have no outcome, and whose beanstalkd copy is gone
 * (beanstalkd restarted without its binlog, the binlog was lost, a manager died between
 * insert and put, or a worker deleted a held job whose record landed late), and puts them
 * again; kicks copies that a dead manager left on their accept hold. A beanstalkd id is
 * trusted only when the body behind it names the job, since ids repeat after restarts. Re-queuing a job that was in fact
 * finishing is harmless: its second outcome is refused by the unique `_id`.
 *
 * Each pass walks jobs in id (= creation) order from where the last pass stopped, at most
 * `maxPerPass` of them, and skips the prefix of history that is known to be settled.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { QueueClient } from '../queue/index.js';
import type { JobDocument, Store } from '../store/index.js';
import { findLiveCopy, queueLocation } from './queue-location.js';
import { putAgain, releaseHold } from './requeue.js';

export interface ReconcilerDeps {
  queue: QueueClient;
  store: Store;
  log: Logger;
  tubePrefix: string;
  /** Jobs younger than this are left alone: their accept may still be between insert and put. */
  graceMs: number;
  pageSize?: number;
  maxPerPass?: number;
}

export interface PassReport {
  checked: number;
  requeued: number;
  /** Copies found still on their accept hold and kicked. */
  kicked: number;
}

export function createReconciler(deps: ReconcilerDeps) {
  const { queue, store, log } = deps;
  const pageSize = deps.pageSize ?? 500;
  const maxPerPass = deps.maxPerPass ?? 2000;
  /** Every job with an id up to this one has an outcome. */
  let settledThrough: string | null = null;
  /** Where the current walk stands; null: start again from the settled prefix. */
  let cursor: string | null = null;
  /** True while every job seen in this walk had an outcome, so the settled prefix can grow. */
  let walkSettled = true;

  return {
    async pass(now: Date = new Date()): Promise<PassReport> {
      const createdBefore = new Date(now.getTime() - deps.graceMs);
      let checked = 0;
      let requeued = 0;
      let kicked = 0;
      while (checked < maxPerPass) {
        if (cursor === null) {
          cursor = settledThrough;
          walkSettled = true;
        }
        const page = await store.findJobsAfter(cursor, createdBefore, pageSize);
        if (page.length === 0) {
          cursor = null;
          break;
        }
        const ids = page.map((job) => job._id);
        const finished = await store.findResultIds(ids);
        const pending = page.filter((job) => !finished.has(job._id));
        const refs = await store.findQueueRefs(pending.map((job) => job._id));
        const lost: JobDocument[] = [];
        for (const job of pending) {
          const location = queueLocation(job, refs.get(job._id));
          // Put under another beanstalkd server than ours: not ours to judge.
          if (location && location.server !== queue.server) continue;
          const live = await findLiveCopy(queue, job._id, location);
          if (live) {
            if (await releaseHold(queue, job, live)) {
              kicked += 1;
              log.warn({ jobId: job._id }, 'kicked a job its manager left on hold');
            }
            continue;
          }
          lost.push(job);
        }
        if (lost.length > 0) {
          const finishedMeanwhile = await store.findResultIds(lost.map((job) => job._id));
          for (const job of lost) {
            if (finishedMeanwhile.has(job._id)) continue;
            await putAgain(queue, store, job, deps.tubePrefix);
            requeued += 1;
            log.warn(
              { jobId: job._id, createdAt: job.createdAt.toISOString() },
              're-queued a job whose beanstalkd copy was lost',
            );
          }
        }
        for (const job of page) {
          if (walkSettled && finished.has(job._id)) settledThrough = job._id;
          else walkSettled = false;
        }
        checked += page.length;
        cursor = ids[ids.length - 1] ?? null;
      }
      return { checked, requeued, kicked };
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;

export interface MaintenanceDeps extends ReconcilerDeps {
  /** Who we are in the lease (host:pid:random). */
  holder: string;
  intervalMs: number;
  /** Completed and cancelled jobs older than this are removed; 0 keeps them. */
  retentionMs: number;
}

const LEASE = 'maintenance';

/**
 * Runs the reconciler, the retention sweep and the idempotency-key sweep every interval,
 * on one manager at a time: a lease in MongoDB (three intervals long, at least 30 s,
 * renewed each pass) says which.
 */
export function startMaintenance(deps: MaintenanceDeps): {
  stop(): Promise<void>;
  runOnce(): Promise<PassReport | null>;
} {
  const reconciler = createReconciler(deps);
  const { store, log } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<PassReport | null> | undefined;
  let stopped = false;
  let failing = false;

  async function once(): Promise<PassReport | null> {
    const now = new Date();
    if (!(await store.acquireLease(LEASE, deps.holder, now, Math.max(deps.intervalMs * 3, 30_000))))
      return null;
    const report = await reconciler.pass(now);
    if (deps.retentionMs > 0) {
      const expired = await store.findExpiredOutcomeIds(new Date(now.getTime() - deps.retentionMs), 1000);
      if (expired.length > 0) {
        await store.deleteJobsCompletely(expired);
        log.info({ removed: expired.length }, 'removed finished jobs past retention');
      }
    }
    await store.deleteExpiredIdempotencyKeys(now);
    return report;
  }

  function runOnce(): Promise<PassReport | null> {
    running ??= once()
      .then((report) => {
        if (failing) log.info('maintenance pass succeeded again');
        failing = false;
        return report;
      })
      .catch((error: unknown) => {
        if (!failing) log.warn({ error: errorMessage(error) }, 'maintenance pass failed; will retry');
        failing = true;
        return null;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().finally(schedule);
    }, deps.intervalMs);
    timer.unref();
  };
  if (deps.intervalMs > 0) schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await store.releaseLease(LEASE, deps.holder).catch(() => undefined);
    },
  };
}
