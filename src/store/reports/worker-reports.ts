/**
 * What the observing endpoints read and the workers' heartbeats write: the small `workers`
 * side collection (upserts are fine there: a handful of documents, written every few
 * seconds, off the hot path; listing it scans those few) and bulk outcome lookups (a point
 * read by `_id` each). Nothing here reads `results` but by `_id`: outcome counts come from the tallies
 * (reports/tallies.ts), never from counting the collection, whose cost would grow with history.
 * None runs on the POST → result path.
 */
import type { Collection, Db } from 'mongodb';
import type { ResultDocument } from '../documents.js';
import { IDS_PER_READ, mapConcurrently } from '../driver/point-reads.js';

/** Upper bounds (seconds) of the processing-duration histogram, on workers and the manager alike. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
]);

/** One bucket of outcomes a worker stored: a second, or a minute, starting at epoch second `t`. */
export interface WorkerBucket {
  t: number;
  completed: number;
  failed: number;
}

/** Counts for one job type since the worker process started. */
export interface WorkerTypeCounts {
  type: string;
  completed: number;
  failed: number;
  /** Sum of the jobs' durations, in ms: the average is this over completed + failed. */
  durationMsTotal: number;
  /**
   * Jobs per duration bucket: `durationBuckets[i]` counts durations in
   * (DURATION_BUCKETS_SECONDS[i-1], DURATION_BUCKETS_SECONDS[i]]; one more entry at the end for
   * anything longer. Not cumulative (Prometheus' `le` buckets are the running sums).
   */
  durationBuckets: number[];
}

/** `workers`: one per worker process, replaced by each heartbeat. */
export interface WorkerDocument {
  /** This process's instance: name, then a suffix unique to this start. */
  _id: string;
  name: string;
  host: string;
  pid: number;
  types: string[];
  concurrency: number;
  state: 'running' | 'stopped';
  completed: number;
  failed: number;
  avgDurationMs: number | null;
  byType: WorkerTypeCounts[];
  /** Non-empty per-second buckets of the last few minutes, oldest first. */
  recent: WorkerBucket[];
  /** Non-empty per-minute buckets of the last hour, oldest first (absent from the documents of older versions). */
  minutes?: WorkerBucket[];
  heartbeatMs: number;
  startedAt: Date;
  /** The worker's clock at its last heartbeat. */
  lastSeen: Date;
  stoppedAt?: Date;
}

/** What a bulk lookup says about one finished job. */
export type OutcomeSummary = Pick<
  ResultDocument,
  '_id' | 'type' | 'outcome' | 'worker' | 'startedAt' | 'finishedAt' | 'durationMs'
>;

type Guard = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** The observing methods of the store (roles.ts: Heartbeats, Observing), over the store's own database and error guard. */
export function workerReportQueries(db: Db, guard: Guard) {
  const workers: Collection<WorkerDocument> = db.collection('workers');
  const results: Collection<ResultDocument> = db.collection('results');
  return {
    async saveWorker(doc: WorkerDocument): Promise<void> {
      await guard('save worker', () => workers.replaceOne({ _id: doc._id }, doc, { upsert: true }));
    },
    listWorkers(seenSince: Date): Promise<WorkerDocument[]> {
      return guard('list workers', () =>
        workers
          .find({ lastSeen: { $gte: seenSince } })
          .sort({ name: 1, startedAt: 1 })
          .limit(1000)
          .toArray(),
      );
    },
    async removeWorkersSeenBefore(before: Date): Promise<number> {
      const { deletedCount } = await guard('remove old workers', () =>
        workers.deleteMany({ lastSeen: { $lt: before } }),
      );
      return deletedCount;
    },
    async findOutcomes(ids: readonly string[]): Promise<OutcomeSummary[]> {
      const projection = { type: 1, outcome: 1, worker: 1, startedAt: 1, finishedAt: 1, durationMs: 1 };
      // `$in` reads of IDS_PER_READ ids, a few at a time: index reads on MongoDB and on our
      // FerretDB build (scripts/ferretdb/pushdown-id-in.patch).
      const chunks: string[][] = [];
      for (let at = 0; at < ids.length; at += IDS_PER_READ) chunks.push(ids.slice(at, at + IDS_PER_READ));
      const found = await mapConcurrently(chunks, 4, (chunk) =>
        guard('find outcomes', () =>
          results
            .find<OutcomeSummary>({ _id: { $in: chunk } }, { projection, batchSize: chunk.length + 1 })
            .toArray(),
        ),
      );
      return found.flat();
    },
  };
}
