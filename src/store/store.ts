/**
 * The only code that talks to MongoDB. The hot path only inserts (coalesced); point reads
 * serve GETs; deletes and updates happen off the hot path (compensation, retry, cancel,
 * the reconciler, retention) and in small side collections.
 */
import { type Db, MongoClient } from 'mongodb';
import { backgroundWrites } from './background-writes.js';
import { COLLECTIONS } from './collections.js';
import type {
  AttemptDocument,
  IdempotencyDocument,
  JobDocument,
  LeaseDocument,
  QueueRefDocument,
  ResultDocument,
} from './documents.js';
import { type GroupMark, type GroupMarks, groupMarks } from './group-marks.js';
import { groupQueries } from './groups.js';
import { guard } from './guard.js';
import { InsertBatcher, type InsertOutcome } from './insert-batcher.js';
import { type JobLog, jobLog, type LogEntry, type LogMeta, type StoredSegment } from './job-log.js';
import { keepConnecting } from './reconnect.js';
import { sideCollections } from './side-collections.js';
import { type TallyDocument, type TotalsDocument, tallyQueries } from './tallies.js';
import { workerReportQueries } from './worker-reports.js';

export interface StoreOptions {
  url: string;
  dbName: string;
  /** Bound on one operation, server selection included. */
  timeoutMs: number;
  /** How long inserts keep retrying transient failures before giving up. */
  insertRetryMs: number;
  maxBatch?: number;
  onRetry?: (error: unknown) => void;
}

function createCoreStore(db: Db, options: StoreOptions, close: () => Promise<void>) {
  const jobs = db.collection<JobDocument>('jobs');
  const refs = db.collection<QueueRefDocument>('queue_refs');
  const results = db.collection<ResultDocument>('results');
  const attempts = db.collection<AttemptDocument>('attempts');
  const batcherOptions = {
    maxBatch: options.maxBatch ?? 500,
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
  );
  /** Jobs whose segment append failed without an answer: the segment tried may hold them. */
  const unsure = new Map<string, { n: number; token: string }>();
  /** One append at a time from this process: concurrent ones would only race for numbers. */
  let appending: Promise<unknown> = Promise.resolve();
  /** The job log's part of an insert batch: its segment, written beside the records (InsertBatcher.prepare). */
  function logBatch(docs: JobDocument[]): Promise<void> {
    const run = appending.then(() => appendFor(docs));
    appending = run.catch(() => undefined);
    return run;
  }
  async function appendFor(docs: JobDocument[]): Promise<void> {
    let rest = docs;
    const tried = new Set(docs.flatMap((doc) => unsure.get(doc._id) ?? []));
    for (const attempt of tried) {
      if (await log.holdsAppend(attempt)) rest = rest.filter((doc) => unsure.get(doc._id) !== attempt);
    }
    if (rest.length > 0) {
      const entries: LogEntry[] = rest.map((doc) => ({
        id: doc._id,
        type: doc.type,
        ...(doc.group !== undefined ? { group: doc.group } : {}),
        ...(doc.idempotencyKey !== undefined ? { key: doc.idempotencyKey } : {}),
        at: doc.createdAt,
      }));
      await log.appendSegment(entries, (attempt) => {
        for (const doc of rest) unsure.set(doc._id, attempt);
      });
    }
    for (const doc of docs) unsure.delete(doc._id);
  }
  // Two batches in flight: one appending its log segment while the other inserts its records
  // (appends themselves go one at a time).
  const jobInserts = new InsertBatcher(jobs, { ...batcherOptions, maxInFlight: 2, prepare: logBatch });
  const refInserts = new InsertBatcher(refs, batcherOptions);
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
    ...backgroundWrites({ jobs, refs, results, attempts }),
    ...groupQueries(db.collection(COLLECTIONS.groups)),
    ...groupMarks(db.collection(COLLECTIONS.groupMarks)),
    ...stateMarkMethods(groupMarks(db.collection(COLLECTIONS.stateMarks))),
    ...tallyQueries(
      db.collection<TallyDocument>(COLLECTIONS.tallies),
      db.collection<TotalsDocument>(COLLECTIONS.totals),
    ),
    /** The job log (job-log.ts): how listing, the reconciler and retention walk jobs. */
    log: log as JobLog,

    /** Records an accepted job. A duplicate can only be our own earlier attempt landing. */
    async insertJob(doc: JobDocument): Promise<InsertOutcome> {
      return guard('insert job', () => jobInserts.insert(doc));
    },
    /** How many queue refs are still on their way to the store. */
    queueRefsInFlight(): number {
      return refsInFlight.size;
    },
    /** Records where a job was put; readable through findQueueRef at once. */
    async insertQueueRef(doc: QueueRefDocument): Promise<void> {
      const inserting = guard('insert queue ref', () => refInserts.insert(doc));
      refsInFlight.set(doc._id, { doc, inserting });
      try {
        await inserting;
      } finally {
        if (refsInFlight.get(doc._id)?.inserting === inserting) refsInFlight.delete(doc._id);
      }
    },
    /** Stores a job's one outcome; `duplicate` means an outcome was already stored (not an error). */
    saveResult(doc: ResultDocument): Promise<InsertOutcome> {
      return guard('save result', () => resultInserts.insert(doc));
    },
    findJob(id: string): Promise<JobDocument | null> {
      return guard('find job', () => jobs.findOne({ _id: id }));
    },
    findResult(id: string): Promise<ResultDocument | null> {
      return guard('find result', () => results.findOne({ _id: id }));
    },
    async findQueueRef(id: string): Promise<QueueRefDocument | null> {
      const stored = await guard('find queue ref', () => refs.findOne({ _id: id }));
      return stored ?? refsInFlight.get(id)?.doc ?? null;
    },
    /** Removes a job record whose put failed (compensation; off the hot path). */
    async deleteJob(id: string): Promise<void> {
      await guard('delete job', () => jobs.deleteOne({ _id: id }));
    },
    async ping(): Promise<void> {
      await guard('ping', () => db.command({ ping: 1 }));
    },
    ...workerReportQueries(db, guard, options.timeoutMs),
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

/**
 * Failed and cancelled jobs, each in its own numbered marks (the same writer as a group's):
 * `GET /jobs?state=failed` walks these newest first instead of the whole log, since such
 * jobs are few. A job marked twice (failed, retried, failed again) is shown once: only the
 * mark matching its current outcome counts.
 */
function stateMarkMethods(marks: GroupMarks) {
  return {
    markState(state: 'failed' | 'cancelled', mark: GroupMark): Promise<void> {
      return marks.markGroupJob(`state:${state}`, mark);
    },
    readStateMarks(state: 'failed' | 'cancelled', n: number): Promise<GroupMark[] | null> {
      return marks.readMarkDoc(`state:${state}`, n);
    },
    lastStateMark(state: 'failed' | 'cancelled'): Promise<number> {
      return marks.lastMarkNumber(`state:${state}`);
    },
  };
}

export type Store = ReturnType<typeof createCoreStore>;

export function createStore(options: StoreOptions): Store {
  const client = new MongoClient(options.url, {
    serverSelectionTimeoutMS: Math.min(options.timeoutMs, 2000),
    connectTimeoutMS: Math.min(options.timeoutMs, 2000),
    socketTimeoutMS: options.timeoutMs,
    waitQueueTimeoutMS: options.timeoutMs,
    maxPoolSize: 20,
    // Inserts are retried by the batcher; reads by the client.
    retryWrites: false,
  });
  const stopConnecting = keepConnecting(client);
  return createCoreStore(client.db(options.dbName), options, async () => {
    stopConnecting();
    await client.close();
  });
}
