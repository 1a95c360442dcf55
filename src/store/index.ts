/** The only code that talks to MongoDB. */

export { COLLECTIONS } from './collections.js';
export * from './documents.js';
export { isStoreUnavailable, StoreUnavailableError } from './errors.js';
export { type GroupMark, markResult } from './group-marks.js';
export type { InsertOutcome } from './insert-batcher.js';
export {
  type JobLog,
  type LogEntry,
  type LogMeta,
  type LogSegment,
  SEGMENT_KEEP_MS,
  type SettledEntry,
} from './job-log.js';
export { mapConcurrently, POINT_READS_IN_FLIGHT } from './point-reads.js';
export type { IdempotencyClaim } from './side-collections.js';
export { createStore, type Store, type StoreOptions } from './store.js';
export {
  addCounts,
  emptyCounts,
  type MaybeCount,
  type OutcomeCounts,
  type TallyDocument,
  type TotalsDocument,
} from './tallies.js';
export type {
  OutcomeCount,
  OutcomeSummary,
  WorkerBucket,
  WorkerDocument,
  WorkerReportStore,
  WorkerTypeCounts,
} from './worker-reports.js';
export { DURATION_BUCKETS_SECONDS } from './worker-reports.js';
