/**
 * When a tally commits (jobs/tally.ts): how long the next commit waits, given who asked for it.
 * What a commit writes stays in tally.ts.
 */

/**
 * A commit goes out as soon as an outcome waits for one and none is in flight (what arrives
 * meanwhile goes with the next), at most one every MIN_COMMIT_GAP_MS; when nothing waits, new
 * counts are committed within this.
 */
export const COMMIT_MS = 200;
/** Commits under load: at most one per this many ms. */
export const MIN_COMMIT_GAP_MS = 50;
/**
 * A commit asked for by a slot with nothing else to do, while another slot of the process is
 * free to take the next job: at most one per this many ms. At 500 jobs/s on two workers, a
 * commit per two or three jobs (two writes each) was a fifth of FerretDB's write commands; with
 * this gap half as many, and the pickup's p50 lower in 12 of 16 alternating quick runs
 * (docs/performance-journal.md, "Commits at a low rate").
 */
export const SPARE_SLOT_COMMIT_GAP_MS = 15;
/**
 * A live tally is committed at least this often, new counts or not: the maintenance pass
 * retires tallies unchanged for 10 minutes (manager/totals.ts), and must only retire the dead.
 */
export const KEEP_ALIVE_MS = 60_000;

/**
 * The gap after the last commit that a commit asked for soon keeps (`spareSlot`: another slot is
 * free for the next job meanwhile); several asking at once get the shortest.
 */
export function soonGapMs(spareSlot: boolean, askedBefore?: number): number {
  const gap = spareSlot ? SPARE_SLOT_COMMIT_GAP_MS : 0;
  return Math.min(askedBefore ?? gap, gap);
}

/**
 * How long the next commit waits. Someone waiting (`fast`): the gap after the last commit —
 * the one asked for soon, else MIN_COMMIT_GAP_MS, since back-to-back commits would compete with
 * the outcome inserts for the store's write lock. Nobody waiting: COMMIT_MS.
 */
export function commitDelayMs(options: {
  fast: boolean;
  soonGapMs: number | undefined;
  lastCommitEndedAt: number;
  now: number;
}): number {
  if (!options.fast) return COMMIT_MS;
  return Math.max(0, options.lastCommitEndedAt + (options.soonGapMs ?? MIN_COMMIT_GAP_MS) - options.now);
}
