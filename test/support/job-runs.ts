/**
 * Handler runs per job, read from the workers' own log lines (LOG_LEVEL=debug). Every run whose
 * handler got to the end, successful or not, ends in one of the lines below, scoped with the
 * job's id (src/worker/run-job.ts): that is what a test counts to tell "ran once" from "ran
 * twice, stored once", which the outcomes alone cannot (one per job id by construction). One
 * run can end in two of them: a group's job, or a failed one, whose outcome was stored but
 * whose mark could not be is logged "stored" and then "not stored" (and released).
 */

/** The message of each line a finished run ends with. */
export const RUN_ENDINGS = Object.freeze({
  /** Its outcome (completed, or failed after its last attempt) was inserted by this run. */
  stored: 'outcome stored',
  /** Another run had inserted the outcome first. */
  alreadyStored: 'outcome was already stored (redelivered job)',
  /** MongoDB did not take it; the job was released to run again. */
  notStored: 'could not store the outcome (or its group mark); releasing the job for later',
  /** The handler failed and the job has attempts left. */
  attemptFailed: 'job attempt failed',
} as const);

type Ending = keyof typeof RUN_ENDINGS;
const ENDING_OF = new Map<unknown, Ending>(
  Object.entries(RUN_ENDINGS).map(([ending, msg]) => [msg, ending as Ending]),
);

export interface Run {
  jobId: string;
  ending: Ending;
  /** beanstalkd's `reserves` when the run began: 2 or more means a delivery after the first. */
  attempt: number;
  /** Which of the processes passed to `jobRuns` ran it. */
  process: number;
}

/** Every finished run in these processes' log records, by job id. */
export function jobRuns(processes: ReadonlyArray<{ records(): Array<Record<string, unknown>> }>) {
  const byJob = new Map<string, Run[]>();
  processes.forEach((proc, index) => {
    for (const record of proc.records()) {
      const ending = ENDING_OF.get(record.msg);
      if (ending === undefined || typeof record.jobId !== 'string') continue;
      const run: Run = { jobId: record.jobId, ending, attempt: Number(record.attempt), process: index };
      const runs = byJob.get(run.jobId);
      if (runs) runs.push(run);
      else byJob.set(run.jobId, [run]);
    }
  });
  return byJob;
}

/** Runs that inserted the job's outcome: more than one is two outcomes for one job. */
export const storedBy = (runs: readonly Run[] | undefined) =>
  (runs ?? []).filter((run) => run.ending === 'stored').length;
