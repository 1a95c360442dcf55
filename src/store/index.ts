/**
 * The only code that talks to MongoDB. Callers take the roles they use (roles.ts: JobRecords,
 * Outcomes, Heartbeats, …); `Store` is all of them.
 */

export { COLLECTIONS } from './collections.js';
export * from './documents.js';
export type { InsertOutcome } from './driver/insert-batcher.js';
export { mapConcurrently, POINT_READS_IN_FLIGHT } from './driver/point-reads.js';
export { isStoreUnavailable, StoreUnavailableError } from './errors.js';
export { type GroupMark, markResult } from './groups/group-marks.js';
export type { SweptRange } from './groups/state-marks.js';
export {
  type JobLog,
  type JobLogReader,
  type LogEntry,
  type LogMeta,
  type LogSegment,
  SEGMENT_KEEP_MS,
  type SettledEntry,
} from './log/job-log.js';
export {
  blockOf,
  blockSpan,
  DIRECTORY_FANOUT,
  DIRECTORY_LEVELS,
  type TypeDirectory,
} from './log/type-directory.js';
export type { DeliveryDocument } from './records/deliveries.js';
export type { ProgressDocument } from './records/progress.js';
export type {
  CatchUp,
  ScheduleDocument,
  ScheduleProgressDocument,
  TickClaimDocument,
} from './records/schedules.js';
export type { IdempotencyClaim } from './records/side-collections.js';
export type { TypeLimitsDocument } from './records/type-limits.js';
export {
  type CompletionEntry,
  fromStoredNotice,
  NOTICE_SLOTS,
  type NoticeDocument,
  type NoticeEvent,
  type StoredNotice,
} from './reports/completions.js';
export type { AcceptBucket, ManagerDocument } from './reports/manager-reports.js';
export {
  addCounts,
  emptyCounts,
  type MaybeCount,
  type OutcomeCounts,
  type TallyDocument,
  type TotalsDocument,
} from './reports/tallies.js';
export type {
  OutcomeSummary,
  WorkerBucket,
  WorkerDocument,
  WorkerTypeCounts,
} from './reports/worker-reports.js';
export { DURATION_BUCKETS_SECONDS } from './reports/worker-reports.js';
export type {
  Completions,
  Deliveries,
  Groups,
  Heartbeats,
  JobRecords,
  Limits,
  Listing,
  Maintenance,
  ManagerHeartbeats,
  MarkedState,
  Observing,
  Outcomes,
  Progress,
  Requeues,
  Schedules,
  Store,
  StoreConnection,
  Tallies,
  TallyCommits,
  WorkerReportStore,
} from './roles.js';
export { createStore, MAX_INSERT_BATCH, type StoreOptions } from './store.js';
