/**
 * GET /stats. Three sources, each the cheapest honest one, none growing with history:
 * - queued / delayed / running / buried per type: beanstalkd's `stats-tube`, read now;
 * - completed / failed / cancelled per type: the outcome tallies (store/tallies.ts): one
 *   document per process that stores outcomes plus the folded totals, committed within a
 *   fraction of a second of each outcome;
 * - throughput: the per-second buckets each worker's heartbeat carries (workers collection,
 *   a handful of documents), summed. They lag by up to one heartbeat interval.
 */

import type { QueueClient } from '../../queue/index.js';
import type { OutcomeCounts, Store } from '../../store/index.js';
import { readQueueDepth } from './queue-depth.js';
import { readOutcomeCounts } from './totals.js';
import { isLive } from './workers.js';

/** Seconds of per-second throughput buckets in the answer. */
export const THROUGHPUT_WINDOW_SECONDS = 300;

interface TypeCounts {
  queued: number;
  delayed: number;
  running: number;
  buried: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface StatsView {
  at: string;
  /** `pausedSeconds`: what is left of the type's pause (POST /types/<type>/pause); 0 when not paused. */
  types: Array<{ type: string } & TypeCounts & { pausedSeconds: number }>;
  totals: TypeCounts;
  outcomesCountedAt: string;
  throughput: {
    bucketSeconds: 1;
    start: string;
    completed: number[];
    failed: number[];
    lastMinute: { completed: number; failed: number; perSecond: number };
  };
  workers: { live: number };
}

export interface StatsServiceDeps {
  queue: QueueClient;
  store: Store;
  tubePrefix: string;
  workerGoneAfterMs: number;
}

const zero = (): TypeCounts => ({
  queued: 0,
  delayed: 0,
  running: 0,
  buried: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
});

export function createStatsService(deps: StatsServiceDeps) {
  return {
    async stats(): Promise<StatsView> {
      const now = Date.now();
      let depth: Awaited<ReturnType<typeof readQueueDepth>>;
      let outcomes: Record<string, OutcomeCounts>;
      let workers: Awaited<ReturnType<Store['listWorkers']>>;
      [depth, outcomes, workers] = await Promise.all([
        readQueueDepth(deps.queue, deps.tubePrefix),
        readOutcomeCounts(deps.store),
        deps.store.listWorkers(new Date(now - THROUGHPUT_WINDOW_SECONDS * 1000)),
      ]);

      const byType = new Map<string, TypeCounts>();
      const pausedSeconds = new Map<string, number>();
      const of = (type: string) => {
        let counts = byType.get(type);
        if (!counts) {
          counts = zero();
          byType.set(type, counts);
        }
        return counts;
      };
      for (const d of depth) {
        const counts = of(d.type);
        counts.queued += d.ready;
        counts.delayed += d.delayed;
        counts.running += d.reserved;
        counts.buried += d.buried;
        pausedSeconds.set(d.type, d.pausedSeconds);
      }
      for (const [type, counts] of Object.entries(outcomes)) {
        const c = of(type);
        c.completed += counts.completed;
        c.failed += counts.failed;
        c.cancelled += counts.cancelled;
      }
      const types = [...byType]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([type, counts]) => ({ type, ...counts, pausedSeconds: pausedSeconds.get(type) ?? 0 }));
      const totals = zero();
      for (const counts of byType.values()) {
        for (const key of Object.keys(totals) as Array<keyof TypeCounts>) totals[key] += counts[key];
      }

      const lastSecond = Math.floor(now / 1000);
      const first = lastSecond - THROUGHPUT_WINDOW_SECONDS + 1;
      const completed = new Array<number>(THROUGHPUT_WINDOW_SECONDS).fill(0);
      const failed = new Array<number>(THROUGHPUT_WINDOW_SECONDS).fill(0);
      for (const doc of workers) {
        for (const bucket of doc.recent) {
          const i = bucket.t - first;
          if (i < 0 || i >= THROUGHPUT_WINDOW_SECONDS) continue;
          completed[i] = (completed[i] ?? 0) + bucket.completed;
          failed[i] = (failed[i] ?? 0) + bucket.failed;
        }
      }
      const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
      const minuteCompleted = sum(completed.slice(-60));
      const minuteFailed = sum(failed.slice(-60));

      return {
        at: new Date(now).toISOString(),
        types,
        totals,
        outcomesCountedAt: new Date(now).toISOString(),
        throughput: {
          bucketSeconds: 1,
          start: new Date(first * 1000).toISOString(),
          completed,
          failed,
          lastMinute: {
            completed: minuteCompleted,
            failed: minuteFailed,
            perSecond: Math.round(((minuteCompleted + minuteFailed) / 60) * 100) / 100,
          },
        },
        workers: { live: workers.filter((doc) => isLive(doc, deps.workerGoneAfterMs, now)).length },
      };
    },
  };
}
