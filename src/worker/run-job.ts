/**
 * One reserved job, start to end: check the body, run the handler while keeping the job
 * alive (touch), then store the one outcome and delete the job — never delete before the
 * outcome is stored, and never run a held job nobody recorded. A failed run is released with
 * exponential backoff until the job's maximum attempts, then the job gets a `failed` outcome
 * and is buried (kept for retry). A job of a type with limits starts only with its tokens
 * (limit-gate.ts); without them it is released for a second, priority kept, and that delivery
 * is not counted as an attempt. Never throws: whatever goes wrong ends in a log line and
 * the job buried, released, or left for beanstalkd to hand out again.
 */
import type { HandlerContext, HandlerRegistry } from '../handlers/index.js';
import { decodeEnvelope, type Envelope } from '../jobs/envelope.js';
import type { GroupResults } from '../jobs/group-results.js';
import { type Logger, lazyChild } from '../log.js';
import type { JobStats, ReservedJob } from '../queue/index.js';
import { type JobRecords, type Listing, Outcome, type Outcomes } from '../store/index.js';
import { deleteWhenCounted, type PendingDelete } from './delete-when-counted.js';
import { deliveriesLost, runsSoFar, statsOf } from './delivery-count.js';
import type { LimitGate } from './limits/limit-gate.js';
import type { JobEvents } from './observe/job-events.js';
import { quietly } from './quietly.js';
import { runHandler } from './run-handler.js';
import { outcomeDoc, releaseForLater, storeOutcome } from './store-outcome.js';
import { mayRunUnkicked, type UnkickedDeps } from './unkicked.js';

/**
 * What a slot uses of the store: how a job ends, a held job's record and a released flow copy's
 * queue ref (mayRunUnkicked), and a limited type's failed runs (runsSoFar).
 */
export type RunJobStore = Outcomes &
  Pick<JobRecords, 'findJob' | 'findQueueRef'> &
  Pick<Listing, 'findAttempts'>;

export interface RunJobDeps extends UnkickedDeps {
  store: RunJobStore;
  handlers: HandlerRegistry;
  log: Logger;
  /** Simulated work before the handler runs, in ms (0 for none). */
  pickWorkDelayMs: () => number;
  retryBaseMs: number;
  retryCapMs: number;
  /** Hard limit on one handler run (0: none). */
  jobTimeoutMs: number;
  /** Aborted when the worker stops for good: the job in hand is released, not failed. */
  signal: AbortSignal;
  /**
   * Resolves once the job's stored outcome is counted in a committed tally (jobs/tally.ts);
   * the job leaves beanstalkd (delete, bury) only then. Absent: at once.
   */
  counted?: (jobId: string) => Promise<void>;
  /** Told when a job starts and what progress its handler reports (the event stream). */
  events?: JobEvents;
  /** Types with limits: their tokens, taken before the handler runs (absent: no limits). */
  limits?: LimitGate;
  /** The slot running the job (which tubes it watches next depends on how the job went). */
  slot?: number;
  /** Reads a group's results for its completion job's `context.group` (absent: the handler gets none). */
  groupResults?: (group: string) => Promise<GroupResults | null>;
  /**
   * `stats-job` over the worker's shared connection to the slot's server (queue/job-stats-lane.ts);
   * absent, or failing for another reason than NOT_FOUND: the slot's own connection is asked.
   */
  jobStats?: (beanstalkId: string) => Promise<JobStats>;
}

/** `context.group` for a group's completion job: its results, read when the handler asks. */
function groupContext(deps: RunJobDeps, envelope: Envelope): HandlerContext['group'] {
  const id = envelope.flow?.afterGroup;
  const read = deps.groupResults;
  if (id === undefined || read === undefined) return undefined;
  return {
    id,
    async results() {
      const results = await read(id);
      if (results === null) throw new Error(`group ${id} is gone (removed by retention?)`);
      return results;
    },
  };
}

/** Seconds a job waits in beanstalkd after its type's tokens were all taken. */
export const LIMIT_WAIT_DELAY_SECONDS = 1;

/** Priority for jobs we bury: after anything a client sends by default. */
const BURY_PRIORITY = 2 ** 31;

/** Seconds to wait before the next attempt: base × 2^(attempt-1), capped; beanstalkd counts whole seconds. */
export function backoffSeconds(attempt: number, baseMs: number, capMs: number): number {
  const ms = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.ceil(ms / 1000);
}

/** Keeps a failed run's error for the job's history (best effort). */
function recordFailure(deps: RunJobDeps, envelope: Envelope, attempt: number, error: string, log: Logger) {
  return quietly(log, 'record the attempt', () =>
    deps.store.recordAttempt(envelope.id, { attempt, worker: deps.workerName, error, at: new Date() }),
  );
}

async function finishAsFailed(
  deps: RunJobDeps,
  job: ReservedJob,
  envelope: Envelope,
  attempt: number,
  message: string,
  startedAt: Date,
  log: Logger,
  ttr: number,
  recordIt = false,
): Promise<void> {
  const doc = outcomeDoc(deps, envelope, attempt, startedAt, { outcome: Outcome.FAILED, error: { message } });
  const written = await storeOutcome(deps, job, envelope, doc, log, ttr);
  if (!written) return;
  // A failure found before running (no handler, deliveries lost) joins the job's errors only
  // when it ended the job: an outcome stored earlier stands, and so does its history.
  if (recordIt && written === 'stored') await recordFailure(deps, envelope, attempt, message, log);
  if (written === 'found') {
    // An earlier delivery ended the job (its worker died before deleting it): that outcome
    // stands, and a buried copy would only linger, as no retry takes a job that did not fail.
    await quietly(log, 'delete the copy of a job already ended', () => deps.consumer.delete(job.beanstalkId));
    return;
  }
  // Kept buried, not deleted: POST /jobs/:id/retry brings it back.
  await quietly(log, 'bury the failed job', async () => {
    await deps.counted?.(envelope.id);
    await deps.consumer.bury(job.beanstalkId, BURY_PRIORITY);
  });
}

/** What runJob leaves in flight: the job's delete, sent once its outcome is counted. */
export interface RunJobTail {
  deleting?: PendingDelete;
}
const DONE: RunJobTail = Object.freeze({});

export async function runJob(job: ReservedJob, deps: RunJobDeps): Promise<RunJobTail> {
  const { consumer, log } = deps;
  const envelope = decodeEnvelope(job.body);
  if (!envelope) {
    log.warn(
      { beanstalkId: job.beanstalkId, reason: 'the job body is not a distributed-workers envelope' },
      'burying a job that cannot run',
    );
    await quietly(log, 'bury the job', () => consumer.bury(job.beanstalkId, BURY_PRIORITY));
    return DONE;
  }
  const jobLog = lazyChild(log, { jobId: envelope.id, type: envelope.type });
  let attempt = 1;
  let ttr = 60;
  let kicks = 0;
  let priority = 0;
  let releases = 0;
  let lost = 0;
  try {
    const stats = await statsOf(deps, job);
    attempt = Math.max(1, stats.reserves);
    ttr = stats.ttr;
    kicks = stats.kicks;
    priority = stats.priority;
    releases = stats.releases;
    lost = deliveriesLost(stats);
  } catch (error: unknown) {
    // The connection went away: beanstalkd has already put the job back for another worker.
    jobLog.warn({ err: error }, 'lost the job before starting it');
    return DONE;
  }
  const unkicked = (envelope.held === true || envelope.released === true) && kicks === 0;
  if (unkicked && !(await mayRunUnkicked(deps, job, envelope, jobLog))) return DONE;
  const handler = deps.handlers.get(envelope.type);
  if (!handler) {
    const reason = `no handler for type ${envelope.type}`;
    jobLog.warn({ reason }, 'burying a job that cannot run');
    await finishAsFailed(deps, job, envelope, attempt, reason, new Date(), jobLog, ttr, true);
    return DONE;
  }

  if (lost >= envelope.maxAttempts) {
    // A job that kills its worker (memory, a native crash, an exit) would otherwise come back
    // after every death and take the next worker with it: each such delivery is an attempt.
    const reason = `${lost} deliveries ended without an outcome or a release: each worker that took the job died or lost it (${envelope.maxAttempts} attempts allowed)`;
    jobLog.warn(
      { attempt, lost, maxAttempts: envelope.maxAttempts },
      'job failed for good without running again: its earlier deliveries were killed or lost with their workers',
    );
    await finishAsFailed(deps, job, envelope, attempt, reason, new Date(), jobLog, ttr, true);
    return DONE;
  }

  const entry = deps.limits ? await deps.limits.enter(envelope.type, deps.slot ?? 0, deps.signal) : undefined;
  if (entry?.ok === false && entry.reason === 'unknown') {
    // MongoDB has not answered since the worker started, and the type has tokens: it may be
    // limited, and nothing could be stored either.
    deps.noteStore?.(false, new Error(`the limits of type ${envelope.type} could not be read yet`));
    await releaseForLater(deps, job);
    return DONE;
  }
  if (entry && !entry.ok) {
    // Not an attempt: the handler never ran. Its priority is kept; a second later it is ready.
    jobLog.debug({ reason: entry.reason }, "job released: its type's limit is reached");
    await quietly(jobLog, 'release the job until its limit allows it', () =>
      consumer.release(job.beanstalkId, { priority, delay: LIMIT_WAIT_DELAY_SECONDS }),
    );
    return DONE;
  }
  const startedAt = new Date();
  deps.events?.started(envelope, attempt);
  let run: Awaited<ReturnType<typeof runHandler>>;
  try {
    run = await runHandler({
      handler,
      envelope,
      attempt,
      ttrSeconds: ttr,
      touch: () => consumer.touch(job.beanstalkId),
      workDelayMs: deps.pickWorkDelayMs(),
      jobTimeoutMs: deps.jobTimeoutMs,
      stopSignal: deps.signal,
      log: jobLog,
      progress: deps.events?.progressFor(envelope, attempt),
      group: groupContext(deps, envelope),
    });
  } finally {
    // The run token goes back as soon as the handler is done, before the outcome is stored.
    if (entry?.ok) entry.leave();
  }
  deps.events?.ended(envelope.id);

  if (run.kind === 'stopped') {
    jobLog.info({ attempt }, 'worker stopping: job released for another worker');
    await quietly(jobLog, 'release the job', () =>
      consumer.release(job.beanstalkId, { priority: 0, delay: 0 }),
    );
    return DONE;
  }
  if (run.kind === 'failed') {
    await recordFailure(deps, envelope, attempt, run.message, jobLog);
    // A limited type's deliveries released for its limit did not run: they are not attempts.
    const runs =
      releases > 0 && deps.limits?.isLimited(envelope.type)
        ? await runsSoFar(deps, envelope.id, attempt, releases, jobLog)
        : attempt;
    if (runs >= envelope.maxAttempts) {
      jobLog.warn(
        { attempt, runs, maxAttempts: envelope.maxAttempts, reason: run.message },
        'job failed for good; burying it',
      );
      await finishAsFailed(deps, job, envelope, attempt, run.message, startedAt, jobLog, ttr);
      return DONE;
    }
    const delay = backoffSeconds(runs, deps.retryBaseMs, deps.retryCapMs);
    jobLog.warn(
      { attempt, runs, maxAttempts: envelope.maxAttempts, retryInSeconds: delay, reason: run.message },
      'job attempt failed',
    );
    await quietly(jobLog, 'release the job for a retry', () =>
      consumer.release(job.beanstalkId, { priority: 0, delay }),
    );
    return DONE;
  }

  const doc = outcomeDoc(deps, envelope, attempt, startedAt, {
    outcome: Outcome.COMPLETED,
    result: run.result,
  });
  if (!(await storeOutcome(deps, job, envelope, doc, jobLog, ttr))) return DONE;
  return { deleting: deleteWhenCounted(deps, envelope.id, job.beanstalkId) };
}
