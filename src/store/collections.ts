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
  /** Every accepted job in numbered segments: the path that walks jobs (job-log.ts). */
  jobLog: 'job_log',
  /** A job's failed runs, one document per job. */
  attempts: 'attempts',
  idempotencyKeys: 'idempotency_keys',
  leases: 'leases',
  groups: 'groups',
  workers: 'workers',
} as const);

export type CollectionName = (typeof COLLECTIONS)[keyof typeof COLLECTIONS];
