/**
 * The collections the store owns, by role. Every read any of them serves on a request or a
 * worker path is a point read by `_id` (store-index.test.ts checks each one is an index read).
 */
export const COLLECTIONS = Object.freeze({
  /** One record per accepted job; never updated. */
  jobs: 'jobs',
  /** Where a job's copy was put when its record does not say. */
  queueRefs: 'queue_refs',
  /** One outcome per finished job: the exactly-once guarantee. */
  results: 'results',
  /** Every accepted job in numbered segments: the path that walks jobs (log/job-log.ts). */
  jobLog: 'job_log',
  /** A job's failed runs, one document per job. */
  attempts: 'attempts',
  idempotencyKeys: 'idempotency_keys',
  leases: 'leases',
  /** A matrix group and its jobs. */
  groups: 'groups',
  /** What each job of a group ended as (groups/group-marks.ts). */
  groupMarks: 'group_marks',
  /** Failed and cancelled jobs, newest last (groups/state-marks.ts). */
  stateMarks: 'state_marks',
  workers: 'workers',
  /** One per manager process: its acceptances per second and minute (reports/manager-reports.ts). */
  managers: 'managers',
  /** One outcome tally per process that stores outcomes (reports/tallies.ts). */
  tallies: 'tallies',
  /** The tallies of processes gone for good, folded by the maintenance pass. */
  totals: 'totals',
  /** Which jobs each tally commit saw end: a ring of notices per tally (reports/completions.ts). */
  completions: 'completions',
  /** The latest progress of each running job that reported one (records/progress.ts). */
  progress: 'progress',
  /** How each job's webhook went: attempts, last status, delivered (records/deliveries.ts). */
  deliveries: 'deliveries',
  /** A job type's rate and concurrency limits, by type (records/type-limits.ts). */
  typeLimits: 'type_limits',
  /** One per schedule, keyed by name: what it is; written by the HTTP routes (records/schedules.ts). */
  schedules: 'schedules',
  /** One per schedule: where its ticks stand; written under the claim on its next tick. */
  scheduleProgress: 'schedule_progress',
  /** A manager enqueueing a schedule's tick, keyed by the tick, while it does. */
  scheduleClaims: 'schedule_claims',
} as const);

export type CollectionName = (typeof COLLECTIONS)[keyof typeof COLLECTIONS];
