/**
 * The only code that talks to MongoDB. The hot path only inserts (coalesced); point reads
 * serve GETs; deletes and updates happen off the hot path (compensation, retry, cancel,
 * the reconciler, retention) and in small side collections.
 */
import { type Db, MongoClient, type MongoClientOptions } from 'mongodb';
import { COLLECTIONS } from './collections.js';
import type {
  AttemptDocument,
  IdempotencyDocument,
  JobDocument,
  LeaseDocument,
  QueueRefDocument,
  ResultDocument,
} from './documents.js';
import { guard, guarded } from './driver/guard.js';
import { InsertBatcher, type InsertOutcome } from './driver/insert-batcher.js';
import { pointReader } from './driver/point-reads.js';
import { HEARTBEAT_MS, keepConnecting } from './driver/reconnect.js';
import { groupMarks } from './groups/group-marks.js';
import { groupQueries } from './groups/groups.js';
import { stateMarkMethods } from './groups/state-marks.js';
import { segmentPerBatch } from './log/batch-segments.js';
import { jobLog, type LogMeta, type StoredSegment } from './log/job-log.js';
import type { StoredDirectory } from './log/type-directory.js';
import { backgroundWrites } from './records/background-writes.js';
import { type DeliveryDocument, deliveryQueries } from './records/deliveries.js';
import { type ProgressDocument, progressQueries } from './records/progress.js';
import {
  type ScheduleDocument,
  type ScheduleProgressDocument,
  scheduleQueries,
  type TickClaimDocument,
} from './records/schedules.js';
import { sideCollections } from './records/side-collections.js';
import { type TypeLimitsDocument, typeLimitQueries } from './records/type-limits.js';
import { completionQueries, type StoredNotice } from './reports/completions.js';
import { managerReportQueries } from './reports/manager-reports.js';
import { type TallyDocument, type TotalsDocument, tallyQueries } from './reports/tallies.js';
import { workerReportQueries } from './reports/worker-reports.js';
import type { Store } from './roles.js';

export interface StoreOptions {
  url: string;
  dbName: string;
  /** Bound on one operation, server selection included. */
  timeoutMs: number;
  /** How long inserts keep retrying transient failures before giving up. */
  insertRetryMs: number;
  maxBatch?: number;
  onRetry?: (error: unknown) => void;
  /** Told when no heartbeat succeeded for a while and the client was connected afresh (driver/reconnect.ts). */
  onSilentClient?: (silentMs: number) => void;
}

/** The most documents one coalesced `insertMany` carries (StoreOptions.maxBatch's default). */
export const MAX_INSERT_BATCH = 500;
/**
 * How long a queue ref that finds no insert of refs out waits for others to share its insert.
 * 10 ms at 500 jobs/s: pickup p50 lower in 18 of 22 alternating quick runs, p99 in 15
 * (docs/performance-journal.md, "Queue refs that wait for each other").
 */
export const REF_LINGER_MS = 10;

function createCoreStore(db: Db, options: StoreOptions, close: () => Promise<void>): Store {
  const jobs = db.collection<JobDocument>('jobs');
  const refs = db.collection<QueueRefDocument>('queue_refs');
  const results = db.collection<ResultDocument>('results');
  const attempts = db.collection<AttemptDocument>('attempts');
  // A record holds its payload (up to beanstalkd's max-job-size): 16 at a time.
  const readJob = pointReader<JobDocument>(db, jobs.collectionName, { idsPerRead: 16 });
  const readRef = pointReader<QueueRefDocument>(db, refs.collectionName);
  const readResult = pointReader<ResultDocument>(db, results.collectionName);
  const batcherOptions = {
    maxBatch: options.maxBatch ?? MAX_INSERT_BATCH,
    // One insertMany in flight per collection: what arrives meanwhile makes the next batch
    // larger, and fewer writers wait on SQLite's single write lock (FerretDB). Against two in
    // flight (quick bench, two runs each): POST /jobs 2,090 -> 2,595 req/s, p99 84 -> 34 ms;
    // drain 5,780 -> 6,570 jobs/s; pickup p99 75 -> 25 ms.
    maxInFlight: 1,
    retryForMs: options.insertRetryMs,
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  };
  const log = jobLog(
    db.collection<StoredSegment>(COLLECTIONS.jobLog),
    db.collection<LogMeta>(COLLECTIONS.jobLog),
    db.collection<StoredDirectory>(COLLECTIONS.jobLog),
    // A segment holds a line per job of its insert: 8 at a time, the walk's segments ahead.
    pointReader<StoredSegment>(db, COLLECTIONS.jobLog, { idsPerRead: 8 }),
  );
  // A second batch goes out beside the one in flight only when a batch's chunk of records
  // waits (125: BULK_CHUNK in manager/jobs/accept/accept.ts): single POSTs then share one
  // insert (and one log segment) instead of two half-size ones, one SQLite commit each, and a
  // batch's chunks still insert while the one before appends its segment. Against two in flight
  // whatever waits (quick bench, three alternating rounds, docs/performance-journal.md "One insert of
  // records at a time, unless a chunk waits"): POST /jobs 3,098–3,815 -> 4,342–4,358 req/s, batch
  // 12,437–15,822 -> 15,366–17,422 jobs/s, pickup p50 9–12 -> 7 ms.
  const jobInserts = new InsertBatcher(jobs, {
    ...batcherOptions,
    maxInFlight: 2,
    overlapFrom: 125,
    prepare: segmentPerBatch(log),
  });
  // Nobody waits for a queue ref (accept answers without it, this process reads it from
  // memory meanwhile): a ref waits up to REF_LINGER_MS for others, so that refs go out as a few
  // commands instead of one per job, out of the way of the records a POST waits for.
  const refInserts = new InsertBatcher(refs, { ...batcherOptions, lingerMs: REF_LINGER_MS });
  const resultInserts = new InsertBatcher(results, batcherOptions);
  /**
   * Queue refs on their way to the store: a manager answers a POST without waiting for its
   * ref, so findQueueRef answers from here until it lands, and close() lets them land first.
   */
  const refsInFlight = new Map<string, { doc: QueueRefDocument; inserting: Promise<unknown> }>();

  return {
    ...sideCollections({
      attempts,
      idempotency: db.collection<IdempotencyDocument>('idempotency_keys'),
      leases: db.collection<LeaseDocument>('leases'),
    }),
    ...backgroundWrites({
      jobs,
      refs,
      results,
      attempts,
      progress: db.collection<ProgressDocument>(COLLECTIONS.progress),
      deliveries: db.collection<DeliveryDocument>(COLLECTIONS.deliveries),
    }),
    ...groupQueries(db.collection(COLLECTIONS.groups)),
    ...groupMarks(db.collection(COLLECTIONS.groupMarks)),
    ...stateMarkMethods(db.collection(COLLECTIONS.stateMarks)),
    ...tallyQueries(
      db.collection<TallyDocument>(COLLECTIONS.tallies),
      db.collection<TotalsDocument>(COLLECTIONS.totals),
    ),
    ...completionQueries(
      db.collection<StoredNotice>(COLLECTIONS.completions),
      db.collection<TallyDocument>(COLLECTIONS.tallies),
    ),
    ...progressQueries(db.collection<ProgressDocument>(COLLECTIONS.progress)),
    ...deliveryQueries(db.collection<DeliveryDocument>(COLLECTIONS.deliveries)),
    ...typeLimitQueries(db.collection<TypeLimitsDocument>(COLLECTIONS.typeLimits)),
    ...scheduleQueries({
      schedules: db.collection<ScheduleDocument>(COLLECTIONS.schedules),
      progress: db.collection<ScheduleProgressDocument>(COLLECTIONS.scheduleProgress),
      claims: db.collection<TickClaimDocument>(COLLECTIONS.scheduleClaims),
    }),
    /** The job log (log/job-log.ts): how listing, the reconciler and retention walk jobs. */
    log,

    /** Records an accepted job. A duplicate can only be our own earlier attempt landing. */
    async insertJob(doc: JobDocument): Promise<InsertOutcome> {
      return guard('insert job', () => jobInserts.insert(doc));
    },
    /** insertJob for each of `docs` at once: each one's fate in order, an error in its place. */
    async insertJobs(docs: readonly JobDocument[]): Promise<Array<InsertOutcome | { error: unknown }>> {
      const fates = await jobInserts.insertAll(docs);
      return fates.map((fate) =>
        typeof fate === 'object' ? { error: guarded('insert job', fate.error) } : fate,
      );
    },
    /** How many queue refs are still on their way to the store. */
    queueRefsInFlight(): number {
      return refsInFlight.size;
    },
    /**
     * Records where a job was put; readable through findQueueRef at once. Its insert may wait
     * REF_LINGER_MS for others unless `now` (the caller waits for it).
     */
    async insertQueueRef(doc: QueueRefDocument, options: { now?: boolean } = {}): Promise<void> {
      const inserting = guard('insert queue ref', () => refInserts.insert(doc, options));
      refsInFlight.set(doc._id, { doc, inserting });
      try {
        await inserting;
      } finally {
        if (refsInFlight.get(doc._id)?.inserting === inserting) refsInFlight.delete(doc._id);
      }
    },
    /**
     * insertQueueRef for each of `docs` at once (each may wait REF_LINGER_MS for others): the
     * error of each one not stored, in order (undefined: stored).
     */
    async insertQueueRefs(docs: readonly QueueRefDocument[]): Promise<Array<{ error: unknown } | undefined>> {
      const inserting = refInserts.insertAll(docs);
      for (const doc of docs) refsInFlight.set(doc._id, { doc, inserting });
      try {
        const fates = await inserting;
        return fates.map((fate) =>
          typeof fate === 'object' ? { error: guarded('insert queue ref', fate.error) } : undefined,
        );
      } finally {
        for (const doc of docs) {
          if (refsInFlight.get(doc._id)?.inserting === inserting) refsInFlight.delete(doc._id);
        }
      }
    },
    /** Stores a job's one outcome; `duplicate` means an outcome was already stored (not an error). */
    saveResult(doc: ResultDocument): Promise<InsertOutcome> {
      return guard('save result', () => resultInserts.insert(doc));
    },
    findJob(id: string): Promise<JobDocument | null> {
      return guard('find job', () => readJob(id));
    },
    findResult(id: string): Promise<ResultDocument | null> {
      return guard('find result', () => readResult(id));
    },
    async findQueueRef(id: string): Promise<QueueRefDocument | null> {
      // Taken before the read: a ref that lands while the read is out leaves the map and may
      // still be missing from what the read saw (seen: a cancel that found no copy to delete).
      const inFlight = refsInFlight.get(id)?.doc;
      const stored = await guard('find queue ref', () => readRef(id));
      return stored ?? inFlight ?? refsInFlight.get(id)?.doc ?? null;
    },
    /** Removes a job record whose put failed (compensation; off the hot path). */
    async deleteJob(id: string): Promise<void> {
      await guard('delete job', () => jobs.deleteOne({ _id: id }));
    },
    async ping(): Promise<void> {
      await guard('ping', () => db.command({ ping: 1 }));
    },
    ...workerReportQueries(db, guard),
    ...managerReportQueries(db, guard),
    async close(): Promise<void> {
      if (refsInFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...refsInFlight.values()].map((ref) => ref.inserting)),
          new Promise((resolve) => {
            timer = setTimeout(resolve, options.timeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      await close();
    },
  };
}

/** The driver's options for a store whose operations are bounded by `timeoutMs`. */
export function storeClientOptions(timeoutMs: number): MongoClientOptions {
  return {
    serverSelectionTimeoutMS: Math.min(timeoutMs, 2000),
    connectTimeoutMS: Math.min(timeoutMs, 2000),
    socketTimeoutMS: timeoutMs,
    waitQueueTimeoutMS: timeoutMs,
    maxPoolSize: 20,
    // Inserts are retried by the batcher; reads by the client.
    retryWrites: false,
    // Twice the driver's default rate: a monitor that stopped is noticed sooner (reconnect.ts).
    heartbeatFrequencyMS: HEARTBEAT_MS,
    // A write is acknowledged once it is in the on-disk journal. A manager answers 2xx once a
    // record is acknowledged and a worker deletes a job once its outcome is: on a standalone
    // mongod the default acknowledges from memory, and a mongod killed within its journal's
    // 100 ms commit interval would lose them. `w` is left to the URL or the server's default
    // ("majority" on most replica sets); `journal=false` in the URL takes this back.
    writeConcern: { journal: true },
    // Every read is of something just written (a job's record, its outcome, a tally): a
    // secondary behind the primary would answer 404 for a job already answered 202. This wins
    // over a readPreference in the URL.
    readPreference: 'primary',
  };
}

export function createStore(options: StoreOptions): Store {
  const client = new MongoClient(options.url, storeClientOptions(options.timeoutMs));
  const stopConnecting = keepConnecting(
    client,
    options.onSilentClient ? { onSilent: options.onSilentClient } : {},
  );
  return createCoreStore(client.db(options.dbName), options, async () => {
    stopConnecting();
    await client.close();
  });
}
