/**
 * This process's tally of the outcomes it stores (store/reports/tallies.ts has the whole scheme).
 *
 * Before an outcome's insert it takes a sequence number (`tag`); once the insert settles it
 * is counted under that number (`settle`). Every COMMIT_MS (commit-pace.ts) a commit closes the open number,
 * waits for the inserts tagged with it, and writes the counts with `seq` = that number. A
 * worker waits for `committed(k)` before it deletes the job whose outcome it tagged k.
 *
 * A commit that saw jobs end first writes them into the tally's next completion notice
 * (store/reports/completions.ts), then saves the tally with `notices` = that number, which
 * seals it: managers follow the notices to wake clients waiting on those jobs.
 */
import type { Logger } from '../log.js';
import {
  addCounts,
  type CompletionEntry,
  emptyCounts,
  type MaybeCount,
  type NoticeEvent,
  type OutcomeCounts,
  type ResultDocument,
  type TallyCommits,
  type TallyDocument,
} from '../store/index.js';
import { commitDelayMs, KEEP_ALIVE_MS, soonGapMs } from './commit-pace.js';
import { CommitWaiters } from './commit-waiters.js';
import { TaggedOutcomes } from './tagged-outcomes.js';

/** After this long without a commit (an outage), look whether the tally was retired meanwhile. */
const RETIRED_CHECK_AFTER_MS = 4 * 60_000;
/** Maybes are kept this long in the tally (the fold reads them well before). */
const MAYBE_KEEP_MS = 60 * 60 * 1000;
/**
 * Most entries one notice carries: while the store is down they pile up; past this the
 * oldest are left out (their waiters answer at their deadline instead of at once).
 */
const MAX_NOTICE_ENTRIES = 20_000;

export class Tally {
  /** The tally's id: outcomes carry it. A new one if this tally was retired during an outage. */
  id: string;
  private readonly baseId: string;
  private restarts = 0;
  /** The counts as of the last successful commit: what a retirement would have folded. */
  private committedCounts: Record<string, OutcomeCounts> = {};
  private lastCommitAt = Date.now();
  private due = false;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly store: TallyCommits;
  private readonly log: Logger;
  private readonly role: TallyDocument['role'];
  private committedSeq = 0;
  /** The outcome inserts tagged and not yet committed. */
  private readonly tagged = new TaggedOutcomes();
  /** Ends taken by a commit whose notice is not sealed yet. */
  private unnoticed: CompletionEntry[] = [];
  /** Starts and progress not in a sealed notice yet (they need no outcome insert). */
  private events: NoticeEvent[] = [];
  /** The last notice sealed (the tally saved after it). */
  private sealedNotices = 0;
  private readonly counts: Record<string, OutcomeCounts> = {};
  private maybes: MaybeCount[] = [];
  private unsure: Array<{ job: string; k: number; at: Date }> = [];
  /** Who waits for a tag's commit. */
  private readonly waiters = new CommitWaiters();
  private timer: NodeJS.Timeout | undefined;
  private timerFast = false;
  private lastCommitEndedAt = 0;
  /** The gap the next commit keeps after the last one, when someone asked for it soon. */
  private hurryGapMs: number | undefined;
  private committing: Promise<void> | undefined;
  private failing = false;
  private stopped = false;

  constructor(options: { id: string; store: TallyCommits; log: Logger; role: TallyDocument['role'] }) {
    this.id = options.id;
    this.baseId = options.id;
    this.store = options.store;
    this.log = options.log;
    this.role = options.role;
    this.keepAlive = setInterval(() => {
      if (this.committedSeq === 0 || Date.now() - this.lastCommitAt < KEEP_ALIVE_MS) return;
      this.due = true;
      this.schedule();
    }, KEEP_ALIVE_MS / 4);
    this.keepAlive.unref();
  }

  /** The sequence number the next outcome is stored under. */
  tag(): number {
    return this.tagged.tag();
  }

  /**
   * The insert tagged `k` ended: `counted` if it stored an outcome, `maybe` if it found one
   * stored before, `unsureJob` if it failed without a clear answer (it may be stored).
   */
  settle(
    k: number,
    counted?: Pick<ResultDocument, 'type' | 'outcome'> &
      Partial<Pick<ResultDocument, '_id' | 'finishedAt' | 'group'>>,
    maybe?: MaybeCount,
    unsureJob?: string,
  ): void {
    if (unsureJob !== undefined) this.unsure.push({ job: unsureJob, k, at: new Date() });
    if (counted) {
      this.tagged.count(k, counted);
      if (counted._id !== undefined)
        this.tagged.noteEnd(k, {
          id: counted._id,
          state: counted.outcome,
          at: counted.finishedAt ?? new Date(),
          storedAt: new Date(),
          type: counted.type,
          ...(counted.group !== undefined ? { group: counted.group } : {}),
        });
    }
    if (maybe) {
      this.maybes.push(maybe);
      // Found ended already: its first process may have died before its notice went out.
      this.tagged.noteEnd(k, { id: maybe.job, state: maybe.outcome, at: maybe.at, type: maybe.type });
    }
    this.tagged.release(k);
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
    const waiting = this.waiters.wait(k);
    this.schedule();
    return waiting;
  }

  /**
   * The next commit goes out without waiting out the gap: someone has nothing else to do. With
   * `spareSlot` (another slot is free for the next job meanwhile), no sooner than
   * SPARE_SLOT_COMMIT_GAP_MS after the last one, so that the jobs ending meanwhile join it.
   */
  commitSoon(spareSlot = false): void {
    this.hurryGapMs = soonGapMs(spareSlot, this.hurryGapMs);
    if (this.timer && !this.committing) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.schedule();
  }

  /**
   * A job started a run or reported progress: it goes out in the next notice (within
   * COMMIT_MS), for the event stream. Never waited for.
   */
  noteEvent(event: NoticeEvent): void {
    // Past the bound (the store is down) new ones are dropped: a commit in flight counts on
    // the ones it took staying first.
    if (this.stopped || this.events.length >= MAX_NOTICE_ENTRIES) return;
    this.events.push(event);
    this.schedule();
  }

  /** Commits what is counted, marked final. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.keepAlive);
    await this.committing;
    await this.commit(true);
    // A last commit that failed (a transient store error at shutdown) is tried again, briefly:
    // the outcomes it carries are counted nowhere else until the fold decides their maybes.
    for (let attempt = 1; this.failing && attempt <= 3; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      await this.commit(true);
    }
    this.waiters.rejectAll(new Error('the outcome tally stopped before counting this outcome'));
  }

  /**
   * After an outage longer than the retirement delay, the maintenance pass may have retired
   * this tally with what it last committed. Then go on under a new id, counting only what came
   * after that commit: writing the old id again would be dropped as a leftover.
   */
  private async checkRetired(): Promise<void> {
    const totals = await this.store.findTotals();
    if (totals?.retired[this.id] === undefined) return;
    this.restarts += 1;
    const fresh: Record<string, OutcomeCounts> = {};
    for (const [type, counts] of Object.entries(this.counts)) {
      const before = this.committedCounts[type] ?? emptyCounts();
      fresh[type] = {
        completed: counts.completed - before.completed,
        failed: counts.failed - before.failed,
        cancelled: counts.cancelled - before.cancelled,
      };
    }
    for (const type of Object.keys(this.counts)) delete this.counts[type];
    addCounts(this.counts, fresh);
    this.log.warn(
      { retired: this.id },
      'outcome tally was retired during an outage; going on under a new id',
    );
    this.id = `${this.baseId}~${this.restarts}`;
    // A new id starts its own ring of notices.
    this.sealedNotices = 0;
  }

  private schedule(): void {
    if (this.committing || this.stopped) return;
    // Nothing new to write and nobody waiting: no commit.
    if (this.tagged.idle && this.waiters.size === 0 && this.events.length === 0 && !this.due) return;
    // Someone waits: commit now (after this turn, so that its neighbours join); else soon. While
    // the store fails, retry at the slow pace.
    const fast = this.waiters.size > 0 && !this.failing;
    if (this.timer && (this.timerFast || !fast)) return;
    clearTimeout(this.timer);
    this.timerFast = fast;
    const delayMs = commitDelayMs({
      fast,
      soonGapMs: this.hurryGapMs,
      lastCommitEndedAt: this.lastCommitEndedAt,
      now: Date.now(),
    });
    this.hurryGapMs = undefined;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.committing ??= this.commit(false).finally(() => {
        this.committing = undefined;
        this.lastCommitEndedAt = Date.now();
        this.schedule();
      });
    }, delayMs);
    this.timer.unref();
  }

  private async commit(final: boolean): Promise<void> {
    // Inserts tagged k or lower still on their way: their counts belong in this commit.
    const { k, counts, ends: tagEnds } = await this.tagged.close();
    for (const byType of counts) addCounts(this.counts, byType);
    for (const entry of tagEnds) this.unnoticed.push(entry);
    if (this.unnoticed.length > MAX_NOTICE_ENTRIES)
      this.unnoticed = this.unnoticed.slice(-MAX_NOTICE_ENTRIES);
    const now = Date.now();
    this.maybes = this.maybes.filter((m) => now - m.at.getTime() < MAYBE_KEEP_MS).slice(-10_000);
    this.unsure = this.unsure.filter((u) => now - u.at.getTime() < MAYBE_KEEP_MS).slice(-10_000);
    try {
      if (this.committedSeq > 0 && now - this.lastCommitAt > RETIRED_CHECK_AFTER_MS)
        await this.checkRetired();
      // The ends go out in the next notice, sealed by the tally saved after it; a notice
      // written again (its tally's save failed) carries these and whatever ended since.
      const ends = this.unnoticed.length;
      const events = this.events.length;
      const notices = ends > 0 || events > 0 ? this.sealedNotices + 1 : this.sealedNotices;
      if (notices > this.sealedNotices) {
        await this.store.saveNotice({
          tally: this.id,
          n: notices,
          at: new Date(now),
          entries: this.unnoticed.slice(0, ends),
          ...(events > 0 ? { events: this.events.slice(0, events) } : {}),
        });
      }
      await this.store.saveTally({
        _id: this.id,
        role: this.role,
        seq: k,
        counts: this.counts,
        maybes: this.maybes,
        unsure: this.unsure,
        updatedAt: new Date(now),
        ...(final ? { final: true } : {}),
        notices,
      });
      this.sealedNotices = notices;
      this.unnoticed.splice(0, ends);
      this.events.splice(0, events);
      if (this.failing) this.log.info('outcome tally stored again');
      this.failing = false;
      this.due = false;
      this.lastCommitAt = now;
      this.committedCounts = structuredClone(this.counts);
      this.committedSeq = k;
      this.waiters.answer(k);
    } catch (error: unknown) {
      if (!this.failing) this.log.warn({ err: error }, 'could not store the outcome tally; will retry');
      this.failing = true;
    }
  }
}
