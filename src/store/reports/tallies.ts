/**
 * Outcome counts without counting `results` (a scan on FerretDB): each process that stores
 * outcomes keeps its own tally document — one writer per document, so no lost updates —
 * and the maintenance pass folds the tallies of processes gone for good into `totals`.
 *
 * - A tally's `seq` says which outcomes it includes: every outcome stored by that process
 *   carries `tally: {w, k}` (whose tally, which sequence number), and a committed tally with
 *   `seq` >= k includes it. A worker deletes a job from beanstalkd only once the outcome's
 *   tally is committed, so an outcome that is not yet counted still has its job in beanstalkd.
 * - If the worker dies first, the job comes back, its outcome insert answers duplicate, and
 *   the worker that gets it notes a "maybe" (the job, and the tally that should count it) in
 *   its own tally. The fold decides each maybe once: counted, unless the first tally's
 *   committed `seq` reached k (it was counted there after all) and that tally does not list
 *   the job as unsure (its insert failed without an answer, so it was not counted there). A maybe waits while its
 *   tally's process may still commit, and is counted once that process is retired.
 * - A process is retired when its tally stopped changing long ago (or it said `final`): its
 *   counts move into `totals`, its `seq` is remembered for later maybes, and its document is
 *   deleted. So the counts converge: every stored outcome is counted exactly once, at the
 *   latest when the process that stored it has been retired.
 */
import type { Collection } from 'mongodb';
import type { Outcome } from '../documents.js';
import { guard } from '../driver/guard.js';

/** Outcomes of one type. */
export interface OutcomeCounts {
  completed: number;
  failed: number;
  cancelled: number;
}

/** An outcome found stored by another process whose tally may not have counted it. */
export interface MaybeCount {
  job: string;
  /** The tally that should count it, and the sequence number it was stored under. */
  w: string;
  k: number;
  type: string;
  outcome: Outcome;
  at: Date;
}

/** `tallies`: one per process that stores outcomes (workers; managers for cancellations). */
export interface TallyDocument {
  _id: string;
  role: 'worker' | 'manager';
  /** Every outcome stored under a sequence number up to this one is in `counts`. */
  seq: number;
  counts: Record<string, OutcomeCounts>;
  maybes: MaybeCount[];
  /**
   * Outcomes whose insert failed without a clear answer (the server went away mid-write): they
   * may be stored, uncounted here. A maybe for one of them is counted even though `seq` passed.
   */
  unsure?: Array<{ job: string; k: number; at: Date }>;
  updatedAt: Date;
  /** Written by a process that stopped cleanly: nothing more will come. */
  final?: boolean;
  /** Its completion notices up to this number are written (sealed; reports/completions.ts). */
  notices?: number;
}

/** `totals`: folded by the maintenance pass only (one writer under its lease). */
export interface TotalsDocument {
  _id: 'totals';
  /** Counts of retired processes and counted maybes. */
  counts: Record<string, OutcomeCounts>;
  /** Retired tallies: their last committed seq and unsure outcomes, for maybes that arrive later. */
  retired: Record<string, { seq: number; at: Date; unsure?: string[] }>;
  /** Maybes seen, by job id, with their decision. */
  maybes: Record<string, MaybeCount & { decided?: 'counted' | 'dropped' }>;
  foldedAt: Date;
}

export const emptyCounts = (): OutcomeCounts => ({ completed: 0, failed: 0, cancelled: 0 });

/** Adds `from` into `into`, type by type. */
export function addCounts(into: Record<string, OutcomeCounts>, from: Record<string, OutcomeCounts>): void {
  for (const [type, counts] of Object.entries(from)) {
    const target = into[type] ?? emptyCounts();
    into[type] = target;
    target.completed += counts.completed;
    target.failed += counts.failed;
    target.cancelled += counts.cancelled;
  }
}

export function tallyQueries(tallies: Collection<TallyDocument>, totals: Collection<TotalsDocument>) {
  return {
    /** Replaces this process's tally (its only writer). */
    async saveTally(doc: TallyDocument): Promise<void> {
      await guard('save tally', () => tallies.replaceOne({ _id: doc._id }, doc, { upsert: true }));
    },

    /**
     * Every tally not yet retired: one per live or recently gone process, a few documents
     * however many jobs there were (a scan of this small collection, like `workers`).
     */
    listTallies(): Promise<TallyDocument[]> {
      return guard('list tallies', () => tallies.find({}).limit(10_000).toArray());
    },

    async deleteTally(id: string): Promise<void> {
      await guard('delete tally', () => tallies.deleteOne({ _id: id }));
    },

    findTotals(): Promise<TotalsDocument | null> {
      return guard('read totals', () => totals.findOne({ _id: 'totals' }));
    },

    async saveTotals(doc: TotalsDocument): Promise<void> {
      await guard('save totals', () => totals.replaceOne({ _id: doc._id }, doc, { upsert: true }));
    },
  };
}
