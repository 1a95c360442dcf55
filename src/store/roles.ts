/**
 * The store by role: each caller takes the interfaces it uses, not the whole store (as
 * src/queue/ hands a worker a `Consumer`, not a `QueueClient`). `Store` is all of them, what
 * `createStore` returns; a worker sees `Outcomes` and a job's record (worker/run-job.ts),
 * `Heartbeats` and `TallyCommits`.
 *
 * - JobRecords: accept's writes and the point reads of a job's record and queue ref.
 * - Outcomes: how a job ends (a worker, or a manager's cancel).
 * - Requeues: a job put back in line (retry, replay, the reconciler), and how far retrying a
 *   type's failed jobs has walked their marks.
 * - Groups: matrix groups and their marks.
 * - Listing: what GET /jobs and GET /jobs/:id read besides a record and an outcome.
 * - Heartbeats, Observing: the `workers` collection, and the observing endpoints' reads.
 * - TallyCommits, Tallies: outcome counts (reports/tallies.ts).
 * - Maintenance: the background passes (reconciler, retention) and their lease.
 * - Schedules: schedules, their progress and their tick claims (the HTTP routes, each manager's scheduler).
 * - Limits: the `type_limits` collection (the limits routes, workers, the maintenance pass).
 * - StoreConnection: ping and close.
 */
import type {
  AttemptEntry,
  GroupDocument,
  JobDocument,
  QueueRefDocument,
  ResultDocument,
} from './documents.js';
import type { InsertOutcome } from './driver/insert-batcher.js';
import type { GroupMark } from './groups/group-marks.js';
import type { SweptRange } from './groups/state-marks.js';
import type { JobLog, JobLogReader } from './log/job-log.js';
import type { DeliveryDocument } from './records/deliveries.js';
import type { ProgressDocument } from './records/progress.js';
import type { ScheduleDocument, ScheduleProgressDocument, TickClaimDocument } from './records/schedules.js';
import type { IdempotencyClaim } from './records/side-collections.js';
import type { TypeLimitsDocument } from './records/type-limits.js';
import type { NoticeDocument } from './reports/completions.js';
import type { ManagerDocument } from './reports/manager-reports.js';
import type { TallyDocument, TotalsDocument } from './reports/tallies.js';
import type { OutcomeSummary, WorkerDocument } from './reports/worker-reports.js';

/** The states kept in their own marks (groups/state-marks.ts). */
export type MarkedState = 'failed' | 'cancelled';

/**
 * A job's record, where its copy was put, and the Idempotency-Key that names it: what accept
 * writes (inserts coalesced, duplicate = already stored), and the point reads by job id.
 */
export interface JobRecords {
  /** Records an accepted job. A duplicate can only be our own earlier attempt landing. */
  insertJob(doc: JobDocument): Promise<InsertOutcome>;
  /** insertJob for each of `docs` at once: each one's fate in order, an error in its place. */
  insertJobs(docs: readonly JobDocument[]): Promise<Array<InsertOutcome | { error: unknown }>>;
  findJob(id: string): Promise<JobDocument | null>;
  /** Removes a job record whose put failed (compensation; off the hot path). */
  deleteJob(id: string): Promise<void>;
  /**
   * Records where a job was put; readable through findQueueRef at once. Its insert may wait a
   * few ms to share a command with others, unless `now` (the caller waits for it).
   */
  insertQueueRef(doc: QueueRefDocument, options?: { now?: boolean }): Promise<void>;
  /** insertQueueRef for each of `docs` at once: the error of each one not stored, in order. */
  insertQueueRefs(docs: readonly QueueRefDocument[]): Promise<Array<{ error: unknown } | undefined>>;
  /** How many queue refs are still on their way to the store. */
  queueRefsInFlight(): number;
  /** Where a job's copy was put, when its record does not say (or no longer does). */
  findQueueRef(id: string): Promise<QueueRefDocument | null>;
  /**
   * Claims `keyHash` for `jobId`, remembering the hash of the request it came with; when the
   * key is held by an unexpired claim, answers the job it names and that claim's request hash.
   */
  claimIdempotencyKey(
    keyHash: string,
    jobId: string,
    now: Date,
    ttlMs: number,
    requestHash?: string,
  ): Promise<IdempotencyClaim>;
  /** Gives a key back when the job it was claimed for could not be accepted. */
  releaseIdempotencyKey(keyHash: string, jobId: string): Promise<void>;
}

/**
 * How a job ends: its one outcome (the unique `_id` is the exactly-once guarantee), its
 * failed runs, and the marks listings find it by. A worker writes these; a manager too when
 * it cancels a job.
 */
export interface Outcomes {
  /** Stores a job's one outcome; `duplicate` means an outcome was already stored (not an error). */
  saveResult(doc: ResultDocument): Promise<InsertOutcome>;
  findResult(id: string): Promise<ResultDocument | null>;
  /** Keeps one failed run's error for the job's history. */
  recordAttempt(jobId: string, entry: AttemptEntry): Promise<void>;
  /** Stores one job's mark in its group; resolves once it is stored. */
  markGroupJob(group: string, mark: GroupMark): Promise<void>;
  /** Marks a failed or cancelled job among its state's marks (GET /jobs?state=…). */
  markState(state: MarkedState, mark: GroupMark): Promise<void>;
}

/** A job put back in line (retry, replay, the reconciler): its new copy, and the failed outcome taken back. */
export interface Requeues {
  /** Records where a job was put again: replaces the old reference. */
  replaceQueueRef(doc: QueueRefDocument): Promise<void>;
  /** Removes a stored outcome if it is still `outcome`; true if this call removed it. */
  deleteResult(id: string, outcome: ResultDocument['outcome']): Promise<boolean>;
  /** The failed marks `POST /types/<type>/retry-failed` has walked for this type (groups/state-marks.ts). */
  findSweptMarks(type: string): Promise<SweptRange[]>;
  /** Replaces them; losing a range to a concurrent writer only means walking it again. */
  saveSweptMarks(type: string, ranges: readonly SweptRange[]): Promise<void>;
}

/** Matrix groups: the group document, and its jobs' numbered marks (groups/group-marks.ts). */
export interface Groups {
  insertGroup(doc: GroupDocument): Promise<void>;
  /** Lists a group in the group index (GET /groups), before its fan-out: `id` is the group's. */
  indexGroup(mark: GroupMark): Promise<void>;
  /** The group index's marks numbered `n`, oldest first (null: none). */
  readGroupIndex(n: number): Promise<GroupMark[] | null>;
  /** The number of the group index's newest marks (0: none). */
  lastGroupIndex(): Promise<number>;
  findGroup(id: string): Promise<GroupDocument | null>;
  /**
   * Each member's latest mark. `members`: the group's job ids in its own order, awaited only
   * to decode the snapshot; `last` is the number of the last mark read.
   */
  readGroupMarks(
    group: string,
    members: Promise<readonly string[]>,
  ): Promise<Map<string, GroupMark> & { last: number }>;
  /** Whether the group has a mark numbered `n`. */
  groupMarkExists(group: string, n: number): Promise<boolean>;
  /** The marks numbered `n` of a key (null: none), for a reader walking them newest first. */
  readMarkDoc(group: string, n: number): Promise<GroupMark[] | null>;
  /** The last number of a key's marks (0: none). */
  lastMarkNumber(group: string): Promise<number>;
}

/** What GET /jobs and GET /jobs/:id read besides a job's record and outcome. */
export interface Listing {
  /** The job log, read: how listing walks jobs (log/job-log.ts). */
  log: JobLogReader;
  /** A job's failed runs, oldest first (one point read). */
  findAttempts(jobId: string): Promise<AttemptEntry[]>;
  /** The state's marks numbered `n` (null: none). */
  readStateMarks(state: MarkedState, n: number): Promise<GroupMark[] | null>;
  /** The number of the state's newest marks (0: none). */
  lastStateMark(state: MarkedState): Promise<number>;
}

/** A worker's heartbeats in the small `workers` collection. */
export interface Heartbeats {
  /** Writes a worker's heartbeat (replaces its document). */
  saveWorker(doc: WorkerDocument): Promise<void>;
  /** Deletes worker documents last seen before `before` (FerretDB has no TTL index). */
  removeWorkersSeenBefore(before: Date): Promise<number>;
}

/** A manager's heartbeats in the small `managers` collection (its acceptances per second and minute). */
export interface ManagerHeartbeats {
  /** Writes a manager's heartbeat (replaces its document). */
  saveManager(doc: ManagerDocument): Promise<void>;
  /** Deletes manager documents last seen before `before` (FerretDB has no TTL index). */
  removeManagersSeenBefore(before: Date): Promise<number>;
}

/** What the observing endpoints read (GET /workers, /stats, /metrics): one query each, off the hot path. */
export interface Observing {
  /** Worker documents whose last heartbeat is at or after `seenSince`, by name. */
  listWorkers(seenSince: Date): Promise<WorkerDocument[]>;
  /** Manager documents whose last heartbeat is at or after `seenSince`. */
  listManagers(seenSince: Date): Promise<ManagerDocument[]>;
  /** The outcomes of those of `ids` that have one. */
  findOutcomes(ids: readonly string[]): Promise<OutcomeSummary[]>;
}

/** The heartbeats' writes and the observing reads of reports/worker-reports.ts. */
export interface WorkerReportStore extends Heartbeats, Observing {}

/** What one process needs to keep its own outcome tally (jobs/tally.ts). */
export interface TallyCommits {
  /** Replaces this process's tally (its only writer). */
  saveTally(doc: TallyDocument): Promise<void>;
  /** Writes one completion notice of this process's tally (reports/completions.ts). */
  saveNotice(doc: Omit<NoticeDocument, '_id'>): Promise<void>;
  /** The folded totals: whether this process's tally was retired meanwhile. */
  findTotals(): Promise<TotalsDocument | null>;
}

/** Following the tallies' completion notices: how a manager learns which jobs ended. */
export interface Completions {
  /** Every tally not yet retired (a few documents however many jobs there were). */
  listTallies(): Promise<TallyDocument[]>;
  /** One tally by id: how far its notices are sealed. */
  findTally(id: string): Promise<TallyDocument | null>;
  /** Notice `n` of a tally, or null when its slot holds another. */
  findNotice(tally: string, n: number): Promise<NoticeDocument | null>;
}

/** A running job's progress (records/progress.ts): the worker writes it, GET reads it. */
export interface Progress {
  saveProgress(doc: ProgressDocument): Promise<void>;
  findProgress(id: string): Promise<ProgressDocument | null>;
}

/** How a job's webhook went (records/deliveries.ts): the delivery loop writes it, GET reads it. */
export interface Deliveries {
  findDelivery(jobId: string): Promise<DeliveryDocument | null>;
  saveDelivery(doc: DeliveryDocument): Promise<void>;
}

/** Every tally and the totals: what the maintenance pass folds, and GET /stats reads. */
export interface Tallies extends TallyCommits {
  /** Every tally not yet retired (a few documents however many jobs there were). */
  listTallies(): Promise<TallyDocument[]>;
  deleteTally(id: string): Promise<void>;
  /** Removes a retired tally's notices (it wrote `written`). */
  deleteNotices(tally: string, written: number): Promise<void>;
  saveTotals(doc: TotalsDocument): Promise<void>;
}

/** The background passes (reconciler, retention), one manager at a time under the lease. */
export interface Maintenance {
  /** The job log, read and rewritten (settle, retention). */
  log: JobLog;
  /** True when `holder` holds (or just took) the lease `name` until now + ttlMs. */
  acquireLease(name: string, holder: string, now: Date, termMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string, now: Date, termMs: number): Promise<void>;
  /** Removes a key that still names `jobId` once it has expired (or at once with `now` omitted). */
  sweepIdempotencyKey(keyHash: string, jobId: string, now?: Date): Promise<boolean>;
  /** Deletes every trace of these jobs; the outcome last. */
  deleteJobsCompletely(ids: readonly string[]): Promise<void>;
}

/**
 * Schedules (records/schedules.ts): what each is (written by the HTTP routes), where its ticks
 * stand (written under the claim on its next tick), and the claims; listed whole (at most
 * MAX_SCHEDULES of each), else read by `_id`.
 */
export interface Schedules {
  /** Stores a new schedule; `duplicate` when the name is taken. */
  insertSchedule(doc: ScheduleDocument): Promise<'inserted' | 'duplicate'>;
  findSchedule(name: string): Promise<ScheduleDocument | null>;
  /** Every schedule, at most `limit`; payloads only `withPayload`. */
  listSchedules(limit: number, withPayload?: boolean): Promise<ScheduleDocument[]>;
  /** Pauses or resumes a schedule; null when there is none. */
  setSchedulePaused(name: string, paused: boolean, now: Date): Promise<ScheduleDocument | null>;
  /** Removes a schedule and its progress; false when there was none. */
  deleteSchedule(name: string): Promise<boolean>;
  findScheduleProgress(name: string): Promise<ScheduleProgressDocument | null>;
  listScheduleProgress(limit: number): Promise<ScheduleProgressDocument[]>;
  /** Replaces a schedule's progress: only under the claim on its next tick. */
  saveScheduleProgress(doc: ScheduleProgressDocument): Promise<void>;
  /** Takes a tick's claim (an insert: exclusive on every server); true when it is `holder`'s. */
  claimTick(id: string, holder: string, now: Date, ttlMs: number): Promise<boolean>;
  /** Gives a tick's claim back. */
  releaseTick(id: string, holder: string): Promise<void>;
  /** Every tick claim (a few: the ticks being enqueued, and those dead managers left). */
  listTickClaims(limit: number): Promise<TickClaimDocument[]>;
}

/** A job type's rate and concurrency limits (records/type-limits.ts), one small document per limited type. */
export interface Limits {
  /** The type's limits, or null when it has none (one point read). */
  findTypeLimits(type: string): Promise<TypeLimitsDocument | null>;
  /** Every limited type: a handful of documents. */
  listTypeLimits(): Promise<TypeLimitsDocument[]>;
  /** Replaces the type's limits (one point write). */
  saveTypeLimits(doc: TypeLimitsDocument): Promise<void>;
  /** Removes the type's limits; true when it had some. */
  deleteTypeLimits(type: string): Promise<boolean>;
}

export interface StoreConnection {
  ping(): Promise<void>;
  /** Lets queue refs in flight land (bounded), then closes the client. */
  close(): Promise<void>;
}

/** The whole store: every role. The manager takes this; a worker takes only its roles. */
export interface Store
  extends JobRecords,
    Outcomes,
    Requeues,
    Groups,
    Listing,
    Heartbeats,
    ManagerHeartbeats,
    Observing,
    Tallies,
    Completions,
    Progress,
    Deliveries,
    Maintenance,
    Schedules,
    Limits,
    StoreConnection {
  log: JobLog;
}
