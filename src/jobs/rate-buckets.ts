/**
 * Counts per second for the last few minutes and per minute for the last hour, kept in a
 * process's memory and carried by its heartbeat (a worker's outcomes, a manager's
 * acceptances). GET /stats sums them across processes: the throughput chart's history costs a
 * handful of small documents, whatever the number of jobs.
 */

/** How far back the per-second buckets reach, in seconds (GET /stats `throughput`). */
export const SECONDS_WINDOW = 300;
/** How far back the per-minute buckets reach, in minutes (GET /stats `lastHour`). */
export const MINUTES_WINDOW = 60;

/** One bucket: its start `t` in epoch seconds (a multiple of 60 for a minute), then the counts. */
export type RateBucket<K extends string> = { t: number } & Record<K, number>;

class Buckets<K extends string> {
  private readonly byStart = new Map<number, RateBucket<K>>();

  constructor(
    private readonly keys: readonly K[],
    private readonly widthSeconds: number,
    private readonly window: number,
  ) {}

  add(key: K, atMs: number, n: number): void {
    const t = Math.floor(atMs / 1000 / this.widthSeconds) * this.widthSeconds;
    let bucket = this.byStart.get(t);
    if (!bucket) {
      bucket = { t } as RateBucket<K>;
      for (const k of this.keys) (bucket as Record<K, number>)[k] = 0;
      this.byStart.set(t, bucket);
    }
    (bucket as Record<K, number>)[key] += n;
  }

  list(nowMs: number): Array<RateBucket<K>> {
    const current = Math.floor(nowMs / 1000 / this.widthSeconds) * this.widthSeconds;
    const oldest = current - this.window * this.widthSeconds;
    for (const t of this.byStart.keys()) if (t <= oldest) this.byStart.delete(t);
    return [...this.byStart.values()].sort((a, b) => a.t - b.t).map((bucket) => ({ ...bucket }));
  }
}

export class RateBuckets<K extends string> {
  private readonly perSecond: Buckets<K>;
  private readonly perMinute: Buckets<K>;

  constructor(keys: readonly K[]) {
    this.perSecond = new Buckets(keys, 1, SECONDS_WINDOW);
    this.perMinute = new Buckets(keys, 60, MINUTES_WINDOW);
  }

  /** Counts `n` under `key` at `atMs` (ms since the epoch). */
  add(key: K, atMs: number, n = 1): void {
    this.perSecond.add(key, atMs, n);
    this.perMinute.add(key, atMs, n);
  }

  /** Non-empty per-second buckets of the last SECONDS_WINDOW seconds, oldest first; older ones are dropped. */
  seconds(nowMs: number = Date.now()): Array<RateBucket<K>> {
    return this.perSecond.list(nowMs);
  }

  /** Non-empty per-minute buckets of the last MINUTES_WINDOW minutes (this one included), oldest first. */
  minutes(nowMs: number = Date.now()): Array<RateBucket<K>> {
    return this.perMinute.list(nowMs);
  }
}
