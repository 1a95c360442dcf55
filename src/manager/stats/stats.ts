/**
 * GET /stats. Three sources, each the cheapest honest one, none growing with history:
 * - queued / delayed / running / buried per type: beanstalkd's `stats-tube`, read now;
 * - completed / failed / cancelled per type: the outcome tallies (store/tallies.ts): one
 *   document per process that stores outcomes plus the folded totals, committed within a
 *   fraction of a second of each outcome;
 * - throughput: the per-second (last 5 minutes) and per-minute (last hour) buckets each
 *   worker's and each manager's heartbeat carries (the `workers` and `managers` collections, a
 *   handful of documents), summed: completed and failed from the workers, accepted from the
 *   managers. They lag by up to one heartbeat interval (the worker's, the manager's 2 s).
 */

import { limitsOf } from '../../jobs/limit-tokens.js';
import { MINUTES_WINDOW } from '../../jobs/rate-buckets.js';
import { type LimitsAnswer, limitsAnswer } from '../../jobs/type-limits.js';
import type { QueueSet } from '../../queue/index.js';
import type { ManagerDocument, Store, WorkerDocument } from '../../store/index.js';
import { coalesceReads } from './coalesce.js';
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
  types: Array<{ type: string } & TypeCounts & { pausedSeconds: number; limits?: LimitsAnswer }>;
  totals: TypeCounts;
  outcomesCountedAt: string;
  throughput: Series & {
    bucketSeconds: 1;
    lastMinute: { accepted: number; completed: number; failed: number; perSecond: number };
  };
  /** The last hour per minute (the current minute last, still filling). */
  lastHour: Series & { bucketSeconds: 60 };
  workers: { live: number };
  managers: { live: number };
}

/** Counts per bucket from `start` on, oldest first. */
interface Series {
  start: string;
  accepted: number[];
  completed: number[];
  failed: number[];
}

/**
 * Sums the workers' and managers' buckets (`recent` or `minutes`) into `length` buckets of
 * `width` seconds ending with the one holding `nowSecond`.
 */
function sumBuckets(
  workers: readonly WorkerDocument[],
  managers: readonly ManagerDocument[],
  pick: 'recent' | 'minutes',
  width: number,
  length: number,
  nowSecond: number,
): Series {
  const first = Math.floor(nowSecond / width) * width - (length - 1) * width;
  const series: Series = {
    start: new Date(first * 1000).toISOString(),
    accepted: new Array<number>(length).fill(0),
    completed: new Array<number>(length).fill(0),
    failed: new Array<number>(length).fill(0),
  };
  const slot = (t: number) => {
    const i = (t - first) / width;
    return Number.isInteger(i) && i >= 0 && i < length ? i : undefined;
  };
  for (const doc of workers) {
    for (const bucket of doc[pick] ?? []) {
      const i = slot(bucket.t);
      if (i === undefined) continue;
      series.completed[i] = (series.completed[i] ?? 0) + bucket.completed;
      series.failed[i] = (series.failed[i] ?? 0) + bucket.failed;
    }
  }
  for (const doc of managers) {
    for (const bucket of doc[pick] ?? []) {
      const i = slot(bucket.t);
      if (i !== undefined) series.accepted[i] = (series.accepted[i] ?? 0) + bucket.accepted;
    }
  }
  return series;
}

export interface StatsServiceDeps {
  queue: QueueSet;
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
  // Requests that come at once share one read (coalesce.ts): each answer is still read after
  // its request came, so none is older than an unshared one. They share its JSON text too:
  // serialising the view for each of them was a tenth of the manager's CPU under load.
  const read = coalesceReads(async () => JSON.stringify(await readStats(deps)));
  return {
    /** The answer of GET /stats as JSON text (a StatsView). */
    statsJson: read,
  };
}

async function readStats(deps: StatsServiceDeps): Promise<StatsView> {
  const now = Date.now();
  // Processes heard from within the hour: a stopped one's last heartbeat still counts.
  const hourAgo = new Date(now - MINUTES_WINDOW * 60_000);
  const [depth, outcomes, workers, managers, limitDocs] = await Promise.all([
    readQueueDepth(deps.queue, deps.tubePrefix),
    readOutcomeCounts(deps.store),
    deps.store.listWorkers(hourAgo),
    deps.store.listManagers(hourAgo),
    // A handful of documents: one per limited type (PUT /types/<type>/limits).
    deps.store.listTypeLimits(),
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
  const limits = new Map<string, LimitsAnswer>();
  for (const doc of limitDocs) {
    const found = limitsOf(doc);
    if (found === null) continue;
    of(doc._id);
    limits.set(doc._id, limitsAnswer(found));
  }
  const types = [...byType]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, counts]) => {
      const limited = limits.get(type);
      return {
        type,
        ...counts,
        pausedSeconds: pausedSeconds.get(type) ?? 0,
        ...(limited ? { limits: limited } : {}),
      };
    });
  const totals = zero();
  for (const counts of byType.values()) {
    for (const key of Object.keys(totals) as Array<keyof TypeCounts>) totals[key] += counts[key];
  }

  const nowSecond = Math.floor(now / 1000);
  const perSecond = sumBuckets(workers, managers, 'recent', 1, THROUGHPUT_WINDOW_SECONDS, nowSecond);
  const lastHour = sumBuckets(workers, managers, 'minutes', 60, MINUTES_WINDOW, nowSecond);
  const lastSixty = (list: number[]) => list.slice(-60).reduce((a, b) => a + b, 0);
  const minute = {
    accepted: lastSixty(perSecond.accepted),
    completed: lastSixty(perSecond.completed),
    failed: lastSixty(perSecond.failed),
  };

  return {
    at: new Date(now).toISOString(),
    types,
    totals,
    outcomesCountedAt: new Date(now).toISOString(),
    throughput: {
      bucketSeconds: 1,
      ...perSecond,
      lastMinute: {
        ...minute,
        perSecond: Math.round(((minute.completed + minute.failed) / 60) * 100) / 100,
      },
    },
    lastHour: { bucketSeconds: 60, ...lastHour },
    workers: { live: workers.filter((doc) => isLive(doc, deps.workerGoneAfterMs, now)).length },
    managers: { live: managers.filter((doc) => isLive(doc, deps.workerGoneAfterMs, now)).length },
  };
}
