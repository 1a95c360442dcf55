/**
 * Outcome counts (store/tallies.ts has the scheme): the fold the maintenance pass runs, and
 * the read GET /stats makes. Both read the small `tallies` collection and one `totals`
 * document; neither touches `results`.
 */
import {
  addCounts,
  emptyCounts,
  type OutcomeCounts,
  type Store,
  type TallyDocument,
  type TotalsDocument,
} from '../../store/index.js';

/** A tally unchanged this long belongs to a process that is gone: it is retired. */
export const RETIRE_AFTER_MS = 10 * 60 * 1000;
/** A tally marked final (a clean stop) is retired after this: its last maybes are read first. */
const RETIRE_FINAL_AFTER_MS = 60 * 1000;
/** Retired tallies and decided maybes are forgotten after this. */
const FORGET_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

const emptyTotals = (now: Date): TotalsDocument => ({
  _id: 'totals',
  counts: {},
  retired: {},
  maybes: {},
  foldedAt: now,
});

export interface FoldReport {
  retired: number;
  counted: number;
  dropped: number;
}

/**
 * Retires the tallies of processes gone for good into `totals`, and decides the maybes: a
 * redelivered outcome is counted unless the tally it was stored under committed it. Run by
 * one manager at a time (the maintenance lease): `totals` has one writer.
 */
export async function foldTallies(store: Store, now: Date = new Date()): Promise<FoldReport> {
  const [tallies, stored] = await Promise.all([store.listTallies(), store.findTotals()]);
  const totals = stored ?? emptyTotals(now);
  const report: FoldReport = { retired: 0, counted: 0, dropped: 0 };
  // Left by a fold that saved `totals` and died before deleting them.
  const leftovers = tallies.filter((t) => totals.retired[t._id] !== undefined).map((t) => t._id);
  const live = new Map<string, TallyDocument>();
  const retiring: string[] = [];
  for (const tally of tallies) {
    if (totals.retired[tally._id] !== undefined) continue;
    const quiet = now.getTime() - tally.updatedAt.getTime();
    if (quiet > RETIRE_AFTER_MS || (tally.final && quiet > RETIRE_FINAL_AFTER_MS)) {
      addCounts(totals.counts, tally.counts);
      totals.retired[tally._id] = {
        seq: tally.seq,
        at: now,
        ...(tally.unsure?.length ? { unsure: tally.unsure.map((u) => u.job) } : {}),
      };
      retiring.push(tally._id);
      report.retired += 1;
    } else {
      live.set(tally._id, tally);
    }
  }
  for (const tally of tallies) {
    for (const maybe of tally.maybes) totals.maybes[maybe.job] ??= { ...maybe };
  }
  for (const maybe of Object.values(totals.maybes)) {
    if (maybe.decided) continue;
    const owner = live.get(maybe.w);
    const retired = totals.retired[maybe.w];
    const committedSeq = owner?.seq ?? retired?.seq;
    const unsure =
      owner?.unsure?.some((u) => u.job === maybe.job) ?? retired?.unsure?.includes(maybe.job) ?? false;
    if (committedSeq !== undefined && committedSeq >= maybe.k && !unsure) {
      maybe.decided = 'dropped';
      report.dropped += 1;
    } else if (unsure || retired || (!owner && now.getTime() - maybe.at.getTime() > RETIRE_AFTER_MS)) {
      // Its process is gone without committing it (or never committed anything).
      maybe.decided = 'counted';
      addCounts(totals.counts, { [maybe.type]: { ...emptyCounts(), [maybe.outcome]: 1 } });
      report.counted += 1;
    }
  }
  const forgetBefore = now.getTime() - FORGET_AFTER_MS;
  for (const [id, retired] of Object.entries(totals.retired)) {
    if (retired.at.getTime() < forgetBefore) delete totals.retired[id];
  }
  for (const [job, maybe] of Object.entries(totals.maybes)) {
    if (maybe.decided && maybe.at.getTime() < forgetBefore) delete totals.maybes[job];
  }
  totals.foldedAt = now;
  await store.saveTotals(totals);
  const written = new Map(tallies.map((t) => [t._id, t.notices ?? 0]));
  for (const id of [...leftovers, ...retiring]) {
    // Its notices first: once the tally is gone, nothing says how many it wrote.
    await store.deleteNotices(id, written.get(id) ?? 0);
    await store.deleteTally(id);
  }
  return report;
}

/** Outcomes per type: the folded totals plus every tally not yet retired. */
export async function readOutcomeCounts(store: Store): Promise<Record<string, OutcomeCounts>> {
  const [tallies, totals] = await Promise.all([store.listTallies(), store.findTotals()]);
  const counts: Record<string, OutcomeCounts> = {};
  addCounts(counts, totals?.counts ?? {});
  for (const tally of tallies) {
    if (totals?.retired[tally._id] === undefined) addCounts(counts, tally.counts);
  }
  return counts;
}
