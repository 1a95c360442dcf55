/**
 * This process's tally of the outcomes it stores (store/tallies.ts has the whole scheme).
 *
 * Before an outcome's insert it takes a sequence number (`tag`); once the insert settles it
 * is counted under that number (`settle`). Every COMMIT_MS a commit closes the open number,
 * waits for the inserts tagged with it, and writes the counts with `seq` = that number. A
 * worker waits for `committed(k)` before it deletes the job whose outcome it tagged k.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import {
  addCounts,
  emptyCounts,
  type MaybeCount,
  type OutcomeCounts,
  type ResultDocument,
  type Store,
  type TallyDocument,
} from '../store/index.js';

/** How often a tally with something new is committed. */
export const COMMIT_MS = 200;
/** Maybes are kept this long in the tally (the fold reads them well before). */
const MAYBE_KEEP_MS = 60 * 60 * 1000;

export class Tally {
  readonly id: string;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly role: TallyDocument['role'];
  private open = 1;
  private committedSeq = 0;
  private readonly inFlight = new Map<number, number>();
  private readonly pending = new Map<number, Record<string, OutcomeCounts>>();
  private readonly counts: Record<string, OutcomeCounts> = {};
  private maybes: MaybeCount[] = [];
  private readonly waiters: Array<{ k: number; resolve: () => void; reject: (error: Error) => void }> = [];
  private readonly settled: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private failing = false;
  private stopped = false;

  constructor(options: { id: string; store: Store; log: Logger; role: TallyDocument['role'] }) {
    this.id = options.id;
    this.store = options.store;
    this.log = options.log;
    this.role = options.role;
  }

  /** The sequence number the next outcome is stored under. */
  tag(): number {
    const k = this.open;
    this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    return k;
  }

  /** The insert tagged `k` ended: `counted` if it stored an outcome, `maybe` if it found one stored before. */
  settle(k: number, counted?: Pick<ResultDocument, 'type' | 'outcome'>, maybe?: MaybeCount): void {
    if (counted) {
      const byType = this.pending.get(k) ?? {};
      addCounts(byType, { [counted.type]: { ...emptyCounts(), [counted.outcome]: 1 } });
      this.pending.set(k, byType);
    }
    if (maybe) this.maybes.push(maybe);
    const left = (this.inFlight.get(k) ?? 1) - 1;
    if (left > 0) this.inFlight.set(k, left);
    else this.inFlight.delete(k);
    for (const wake of this.settled.splice(0)) wake();
    this.schedule();
  }

  /**
   * Resolves once a commit includes everything tagged `k`; rejects if the tally stopped
   * without committing it (the job then stays in beanstalkd, and comes back as a maybe).
   */
  committed(k: number): Promise<void> {
    if (k <= this.committedSeq) return Promise.resolve();
    if (this.stopped)
      return Promise.reject(new Error('the outcome tally stopped before counting this outcome'));
    return new Promise((resolve, reject) => {
      this.waiters.push({ k, resolve, reject });
      this.schedule();
    });
  }

  /** Commits what is counted, marked final. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.committing;
    await this.commit(true);
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(new Error('the outcome tally stopped before counting this outcome'));
    }
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    // Nothing new to write and nobody waiting: no commit.
    if (this.pending.size === 0 && this.waiters.length === 0 && this.inFlight.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.committing ??= this.commit(false).finally(() => {
        this.committing = undefined;
        if (this.waiters.length > 0 || this.pending.size > 0) this.schedule();
      });
    }, COMMIT_MS);
    this.timer.unref();
  }

  private async commit(final: boolean): Promise<void> {
    const k = this.open;
    this.open += 1;
    // Inserts tagged k or lower still on their way: their counts belong in this commit.
    const busy = () => [...this.inFlight.keys()].some((tag) => tag <= k);
    while (busy()) await new Promise<void>((wake) => this.settled.push(wake));
    for (const [tag, byType] of this.pending) {
      if (tag > k) continue;
      addCounts(this.counts, byType);
      this.pending.delete(tag);
    }
    const now = Date.now();
    this.maybes = this.maybes.filter((m) => now - m.at.getTime() < MAYBE_KEEP_MS).slice(-10_000);
    try {
      await this.store.saveTally({
        _id: this.id,
        role: this.role,
        seq: k,
        counts: this.counts,
        maybes: this.maybes,
        updatedAt: new Date(now),
        ...(final ? { final: true } : {}),
      });
      if (this.failing) this.log.info('outcome tally stored again');
      this.failing = false;
      this.committedSeq = k;
      const ready = this.waiters.filter((w) => w.k <= k);
      for (const waiter of ready) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    } catch (error: unknown) {
      if (!this.failing)
        this.log.warn({ error: errorMessage(error) }, 'could not store the outcome tally; will retry');
      this.failing = true;
    }
  }
}
