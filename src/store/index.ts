/** The only code that talks to MongoDB. */
export * from './documents.js';
export { isStoreUnavailable, StoreUnavailableError } from './errors.js';
export type { InsertOutcome } from './insert-batcher.js';
export type { JobListQuery } from './listing.js';
export type {
  ObserveStore,
  OutcomeCount,
  OutcomeSummary,
  WorkerBucket,
  WorkerDocument,
  WorkerTypeCounts,
} from './observe.js';
export { DURATION_BUCKETS_SECONDS } from './observe.js';
export type { IdempotencyClaim } from './side-collections.js';
export { createStore, type Store, type StoreOptions } from './store.js';
