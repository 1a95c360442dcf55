/**
 * What one worker process has done since it started: outcomes per type, durations, and
 * per-second buckets of the last few minutes and per-minute ones of the last hour. Heartbeats carry a snapshot of it to MongoDB
 * (GET /workers, GET /stats and the manager's /metrics read it there).
 */
import { RateBuckets, SECONDS_WINDOW } from '../../jobs/rate-buckets.js';
import type { Tally } from '../../jobs/tally.js';
import {
  DURATION_BUCKETS_SECONDS,
  type MaybeCount,
  Outcome,
  type Outcomes,
  type ResultDocument,
  StoreUnavailableError,
  type WorkerBucket,
  type WorkerTypeCounts,
} from '../../store/index.js';

/** How far back the per-second buckets reach, in seconds (GET /stats shows this window). */
export const RECENT_WINDOW_SECONDS = SECONDS_WINDOW;

export type StoredOutcome = Pick<ResultDocument, 'type' | 'outcome' | 'durationMs' | 'finishedAt'>;

/** Index into a `durationBuckets` array for a duration in ms. */
export function durationBucketIndex(durationMs: number): number {
  const seconds = durationMs / 1000;
  const index = DURATION_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
  return index === -1 ? DURATION_BUCKETS_SECONDS.length : index;
}

export class WorkerStats {
  private readonly types = new Map<string, WorkerTypeCounts>();
  private readonly rates = new RateBuckets(['completed', 'failed'] as const);

  /** Counts one stored outcome; cancellations are not the worker's doing and are left out. */
  record(doc: StoredOutcome): void {
    if (doc.outcome !== Outcome.COMPLETED && doc.outcome !== Outcome.FAILED) return;
    let counts = this.types.get(doc.type);
    if (!counts) {
      counts = {
        type: doc.type,
        completed: 0,
        failed: 0,
        durationMsTotal: 0,
        durationBuckets: new Array<number>(DURATION_BUCKETS_SECONDS.length + 1).fill(0),
      };
      this.types.set(doc.type, counts);
    }
    const completed = doc.outcome === Outcome.COMPLETED;
    if (completed) counts.completed += 1;
    else counts.failed += 1;
    counts.durationMsTotal += doc.durationMs;
    const index = durationBucketIndex(doc.durationMs);
    counts.durationBuckets[index] = (counts.durationBuckets[index] ?? 0) + 1;

    this.rates.add(completed ? 'completed' : 'failed', doc.finishedAt.getTime());
  }

  totals(): { completed: number; failed: number; avgDurationMs: number | null } {
    let completed = 0;
    let failed = 0;
    let durationMs = 0;
    for (const counts of this.types.values()) {
      completed += counts.completed;
      failed += counts.failed;
      durationMs += counts.durationMsTotal;
    }
    const done = completed + failed;
    return {
      completed,
      failed,
      avgDurationMs: done === 0 ? null : Math.round((durationMs / done) * 10) / 10,
    };
  }

  byType(): WorkerTypeCounts[] {
    return [...this.types.values()].map((counts) => ({
      ...counts,
      durationBuckets: [...counts.durationBuckets],
    }));
  }

  /** Non-empty per-second buckets of the last RECENT_WINDOW_SECONDS, oldest first; older ones are dropped. */
  recent(nowMs: number = Date.now()): WorkerBucket[] {
    return this.rates.seconds(nowMs);
  }

  /** Non-empty per-minute buckets of the last hour (`t` the minute's first second), oldest first. */
  minutes(nowMs: number = Date.now()): WorkerBucket[] {
    return this.rates.minutes(nowMs);
  }
}

/**
 * Whether the stored outcome is this very run's, written by an earlier try of this insert
 * (the insert batcher retries a batch whose answer was lost; what landed comes back as a
 * duplicate): same tally and sequence number, same worker slot, same start.
 */
export function isThisOutcome(
  stored: ResultDocument,
  doc: ResultDocument,
  tallyId: string,
  k: number,
): boolean {
  return (
    stored.tally?.w === tallyId &&
    stored.tally.k === k &&
    stored.worker === doc.worker &&
    stored.startedAt.getTime() === doc.startedAt.getTime()
  );
}

/**
 * The same store, but each outcome it stores is tagged and counted in this process's tally
 * (jobs/tally.ts) and reported to `onStored`. A duplicate — an outcome stored by an earlier
 * delivery — is not counted again: it becomes a maybe for the tally that should count it.
 * `counted(jobId)` resolves once the job's outcome is in a committed tally: only then may
 * its job leave beanstalkd.
 */
export function tallyOutcomes<S extends Pick<Outcomes, 'saveResult' | 'findResult'>>(
  store: S,
  tally: Tally,
  onStored: (doc: ResultDocument) => void,
  deadlineMs: number,
): { store: S; counted: (jobId: string) => Promise<void> } {
  const tags = new Map<string, number>();
  const saveResult: Outcomes['saveResult'] = async (doc) => {
    const k = tally.tag();
    let maybe: MaybeCount | undefined;
    let outcome: Awaited<ReturnType<Outcomes['saveResult']>>;
    try {
      // A write that never answers must not hold back every later count (tags commit in
      // order): past the deadline it is settled as one that may have landed.
      outcome = await withDeadline(
        store.saveResult({ ...doc, tally: { w: tally.id, k } }),
        deadlineMs,
        () => new StoreUnavailableError(`MongoDB did not answer the outcome write within ${deadlineMs} ms`),
      );
      if (outcome === 'duplicate') {
        const stored = await store.findResult(doc._id);
        if (stored && isThisOutcome(stored, doc, tally.id, k)) {
          // Our own insert, landed on an earlier try whose answer was lost: ours to count.
          outcome = 'inserted';
        } else if (stored?.tally) {
          maybe = {
            job: doc._id,
            ...stored.tally,
            type: stored.type,
            outcome: stored.outcome,
            at: new Date(),
          };
        }
      }
    } catch (error: unknown) {
      // It may have landed all the same: a later delivery's maybe must count it.
      tally.settle(k, undefined, undefined, doc._id);
      throw error;
    }
    tally.settle(k, outcome === 'inserted' ? doc : undefined, maybe);
    tags.set(doc._id, k);
    if (outcome === 'inserted') onStored(doc);
    return outcome;
  };
  return {
    // Delegates every other method to the store itself, whatever its shape.
    store: Object.create(store, { saveResult: { value: saveResult } }) as S,
    counted(jobId) {
      const k = tags.get(jobId);
      tags.delete(jobId);
      return k === undefined ? Promise.resolve() : tally.committed(k);
    },
  };
}

/**
 * `promise`, or a rejection with `late()` once `ms` have passed without an answer. One promise
 * and one timer (every outcome write goes through here): a race with a deadline promise and a
 * `finally` made five more objects per job for the collector.
 */
function withDeadline<T>(promise: Promise<T>, ms: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
