/**
 * The outcome inserts a tally has tagged and not yet committed (jobs/tally.ts): how many under
 * each sequence number are still on their way, and what the settled ones counted and saw end.
 * A commit closes the open number, waits for every insert tagged with it or lower, and takes
 * what they left.
 */
import type { CompletionEntry, OutcomeCounts, ResultDocument } from '../store/index.js';
import { emptyCounts } from '../store/index.js';

/** What the inserts tagged up to a commit's number left for it. */
export interface ClosedTags {
  /** The number closed: the commit's `seq`. */
  k: number;
  /** Counts by type, one record per tag. */
  counts: Array<Record<string, OutcomeCounts>>;
  /** Jobs seen ending, in the order they were noted. */
  ends: CompletionEntry[];
}

export class TaggedOutcomes {
  private open = 1;
  private readonly inFlight = new Map<number, number>();
  private readonly pending = new Map<number, Record<string, OutcomeCounts>>();
  /** Jobs seen ending, by tag, not yet in a commit. */
  private readonly pendingEnds = new Map<number, CompletionEntry[]>();
  private readonly settled: Array<() => void> = [];

  /** Nothing tagged is on its way or waiting to be committed. */
  get idle(): boolean {
    return this.pending.size === 0 && this.inFlight.size === 0;
  }

  /** The number the next outcome is stored under, counted as on its way. */
  tag(): number {
    const k = this.open;
    this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    return k;
  }

  /** Counts an outcome the insert tagged `k` stored. */
  count(k: number, outcome: Pick<ResultDocument, 'type' | 'outcome'>): void {
    let byType = this.pending.get(k);
    if (byType === undefined) {
      byType = {};
      this.pending.set(k, byType);
    }
    // Counted in place (every outcome comes here): no counts object built to be added.
    const counts = byType[outcome.type] ?? emptyCounts();
    byType[outcome.type] = counts;
    counts[outcome.outcome] += 1;
  }

  /** Notes a job seen ending by the insert tagged `k`, for the commit's notice. */
  noteEnd(k: number, entry: CompletionEntry): void {
    const ends = this.pendingEnds.get(k) ?? [];
    ends.push(entry);
    this.pendingEnds.set(k, ends);
  }

  /** One insert tagged `k` is no longer on its way. */
  release(k: number): void {
    const left = (this.inFlight.get(k) ?? 1) - 1;
    if (left > 0) this.inFlight.set(k, left);
    else this.inFlight.delete(k);
    for (const wake of this.settled.splice(0)) wake();
  }

  /** Closes the open number, waits for the inserts tagged with it or lower, and takes what they left. */
  async close(): Promise<ClosedTags> {
    const k = this.open;
    this.open += 1;
    const busy = () => [...this.inFlight.keys()].some((tag) => tag <= k);
    while (busy()) await new Promise<void>((wake) => this.settled.push(wake));
    const counts: Array<Record<string, OutcomeCounts>> = [];
    for (const [tag, byType] of this.pending) {
      if (tag > k) continue;
      counts.push(byType);
      this.pending.delete(tag);
    }
    const ends: CompletionEntry[] = [];
    for (const [tag, tagged] of this.pendingEnds) {
      if (tag > k) continue;
      for (const entry of tagged) ends.push(entry);
      this.pendingEnds.delete(tag);
    }
    return { k, counts, ends };
  }
}
