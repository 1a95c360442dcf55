/**
 * How often a job just reserved was delivered and run before: beanstalkd's stats of the
 * delivery (asked over the worker's shared lane, else the slot's own connection); for a
 * limited type, the runs among those deliveries; and those lost with their workers.
 */
import type { Logger } from '../log.js';
import {
  type Consumer,
  isQueueError,
  type JobStats,
  QueueErrorCode,
  type ReservedJob,
} from '../queue/index.js';
import type { Listing } from '../store/index.js';

/**
 * The runs of a limited type's job so far, this one included. beanstalkd's `reserves` counts
 * every delivery, and those released for a limit never ran. Every delivery ended in a release,
 * a timeout or a lost connection (or is this one): reserves − releases counts this one and those
 * cut short by a dying worker or its TTR, and each earlier run that failed with attempts left
 * was both released and recorded in the job's attempts, so those add back. Read only on the
 * failure path; unreadable, the budget counts every delivery (it may end early, never late).
 */
export async function runsSoFar(
  deps: { store: Pick<Listing, 'findAttempts'> },
  jobId: string,
  attempt: number,
  releases: number,
  log: Logger,
): Promise<number> {
  try {
    const failedBefore = (await deps.store.findAttempts(jobId)).filter((entry) => entry.attempt < attempt);
    return Math.max(1, Math.min(attempt, attempt - releases + failedBefore.length));
  } catch (error: unknown) {
    log.warn({ err: error }, "could not read the job's failed runs; counting every delivery as a run");
    return attempt;
  }
}

/** beanstalkd's stats of the job just reserved: from the shared lane, else the slot's own connection. */
export function statsOf(
  deps: { consumer: Pick<Consumer, 'statsJob'>; jobStats?: (beanstalkId: string) => Promise<JobStats> },
  job: ReservedJob,
): Promise<JobStats> {
  if (!deps.jobStats) return deps.consumer.statsJob(job.beanstalkId);
  // A plain chain, not an async function: asked for every job, and each frame is garbage.
  return deps.jobStats(job.beanstalkId).catch((error: unknown) => {
    if (isQueueError(error, QueueErrorCode.NOT_FOUND)) throw error;
    // The lane's connection failed: the slot's own tells whether the job is still ours.
    return deps.consumer.statsJob(job.beanstalkId);
  });
}

/**
 * The earlier deliveries of this copy that ended with no word from their worker (no release,
 * no bury, no delete): it died or lost its connection holding the job, or let its TTR pass.
 * beanstalkd counts every reserve but puts such a job back without counting anything else. A
 * worker's own releases (a failed run with attempts left, a stop, a store outage, a limit) are
 * counted, so an outage never spends a job's attempts here. Counters that a beanstalkd restart
 * left behind (it does not write every reserve and release to its binlog) may be off by one.
 */
export function deliveriesLost(stats: Pick<JobStats, 'reserves' | 'releases' | 'buries'>): number {
  return Math.max(0, stats.reserves - 1 - stats.releases - stats.buries);
}
