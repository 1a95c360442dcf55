/**
 * How a manager learns that a job ended anywhere (docs/completion-design.md): it follows
 * every live outcome tally's completion notices with point reads — a tally document and its
 * new notices each tick — and wakes the requests waiting on the jobs they name. For the event
 * stream it also hands every notice's starts, progress and ends to its listeners, and follows
 * the job log for the jobs accepted. It runs only while someone waits or listens: idle, it
 * reads nothing and holds no timer. Waits of the flow loop (a waiting child's parents) are
 * `relaxed`: while only those wait, it reads every `relaxedPollMs` instead of every `pollMs`.
 *
 * Nothing is missed: a waiter is registered, then the follower's starting points are read,
 * then the waiter reads its job. An end stored before that read is in what the read sees; an
 * end after the starting points is in a notice the follower reads next.
 */
import type { Logger } from '../../log.js';
import {
  type Completions,
  type JobLogReader,
  mapConcurrently,
  POINT_READS_IN_FLIGHT,
} from '../../store/index.js';
import { JobWaiters, type WaitEnd, type WaitPace } from './job-waiters.js';
import { type FollowedEvent, noticeEvents } from './notice-events.js';

export type { WaitEnd, WaitPace } from './job-waiters.js';
export { type FollowedEvent, noticeEvents } from './notice-events.js';

/** Told what the follower reads, in order, while subscribed. */
export interface NoticeListener {
  events(batch: readonly FollowedEvent[]): void;
  /** Some events were passed over (the follower fell a ring of notices behind). */
  gap(): void;
}

/** Most job-log segments read per tick: a burst of accepts is caught up over a few ticks. */
const SEGMENTS_PER_TICK = 20;

export interface FollowerOptions {
  store: Completions & { log: Pick<JobLogReader, 'readLogMeta' | 'logHead' | 'readSegment'> };
  log: Logger;
  /** How often the live tallies are read for new notices while a request waits or someone listens. */
  pollMs?: number;
  /** How often while only relaxed waits wait (the flow loop's: a child starts this much later at most). */
  relaxedPollMs?: number;
  /** How often the list of live tallies is read again: how soon a new process is followed. */
  listMs?: number;
  /** Most waiting requests at once; past it, register() refuses. */
  maxWaiters: number;
  /** Most relaxed waits at once; past it, register() refuses them. */
  maxRelaxed?: number;
}

/** The follower's relaxed pace by default: a waiting child starts within about this of its parents' end. */
export const RELAXED_POLL_MS = 500;
/** Relaxed waits one manager holds by default: a child's registration per parent it waits for. */
export const MAX_RELAXED_WAITS = 10_000;

export class CompletionFollower {
  private readonly store: FollowerOptions['store'];
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly relaxedPollMs: number;
  private readonly listMs: number;
  readonly maxWaiters: number;
  private readonly maxRelaxed: number;
  private readonly waiters = new JobWaiters(() => {
    if (this.busy === 0) this.idle();
  });
  private stopped = false;
  private readonly listeners = new Set<NoticeListener>();
  /** The last job-log segment read, while anyone listens. */
  private logPosition: number | undefined;
  /** Each tally followed, and the last notice read from it. */
  private positions: Map<string, number> | undefined;
  private starting: Promise<void> | undefined;
  private listedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (epoch ms). */
  private timerDue = 0;
  private ticking = false;
  private failing = false;

  constructor(options: FollowerOptions) {
    this.store = options.store;
    this.log = options.log;
    this.pollMs = options.pollMs ?? 25;
    this.relaxedPollMs = options.relaxedPollMs ?? RELAXED_POLL_MS;
    this.listMs = options.listMs ?? 250;
    this.maxWaiters = options.maxWaiters;
    this.maxRelaxed = options.maxRelaxed ?? MAX_RELAXED_WAITS;
  }

  /** How many requests wait now (relaxed waits not counted). */
  get waiting(): number {
    return this.waiters.count('prompt');
  }

  /** How many relaxed waits wait now. */
  get waitingRelaxed(): number {
    return this.waiters.count('relaxed');
  }

  /** True once close() was called: the manager is stopping. */
  get closed(): boolean {
    return this.stopped;
  }

  /**
   * The manager is stopping: every wait ends now as at its deadline (its request answers with
   * the state the job has), and a wait registered later ends at once.
   */
  close(): void {
    this.stopped = true;
    this.waiters.endAll('timeout');
  }

  /**
   * Hands `listener` every event from now on (starts, progress, ends from the notices; accepts
   * from the job log) until the returned function is called.
   */
  async subscribe(listener: NoticeListener): Promise<() => void> {
    this.listeners.add(listener);
    const unsubscribe = () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.logPosition = undefined;
      if (this.busy === 0) this.idle();
    };
    try {
      await this.start();
      if (this.logPosition === undefined) {
        const jobLog = this.store.log;
        this.logPosition = await jobLog.logHead(await jobLog.readLogMeta());
      }
    } catch (error: unknown) {
      unsubscribe();
      throw error;
    }
    // A listener arriving while only relaxed waits wait: the prompt pace from now.
    this.schedule();
    return unsubscribe;
  }

  /** Waits plus listeners: the follower runs while this is above 0. */
  private get busy(): number {
    return this.waiters.count('prompt') + this.waiters.count('relaxed') + this.listeners.size;
  }

  /** The time between reads now: prompt while a request waits or someone listens. */
  private get interval(): number {
    return this.waiters.count('prompt') + this.listeners.size > 0 ? this.pollMs : this.relaxedPollMs;
  }

  /** Whether it is following the tallies now (someone waits). */
  get following(): boolean {
    return this.positions !== undefined || this.timer !== undefined;
  }

  /**
   * Registers a wait on `id` and resolves once the follower is reading from a point before
   * now (read the job after this); `until` then resolves when a notice names the job, `ms`
   * pass, or `signal` aborts. Null when the waiters of that pace are full.
   */
  async register(
    id: string,
    ms: number,
    signal?: AbortSignal,
    pace: WaitPace = 'prompt',
  ): Promise<{ until: Promise<WaitEnd>; cancel: () => void } | null> {
    const prompt = pace === 'prompt';
    if (this.waiters.count(pace) >= (prompt ? this.maxWaiters : this.maxRelaxed)) return null;
    if (signal?.aborted) return { until: Promise.resolve('aborted'), cancel: () => undefined };
    if (this.stopped) return { until: Promise.resolve('timeout'), cancel: () => undefined };
    const { until, end } = this.waiters.add(id, ms, pace, signal);
    try {
      await this.start();
    } catch (error: unknown) {
      end('aborted');
      throw error;
    }
    // A request arriving while only relaxed waits wait: its first read within pollMs.
    if (prompt) this.schedule();
    return { until, cancel: () => end('aborted') };
  }

  /** Reads where each live tally's notices stand, once per busy spell. */
  private start(): Promise<void> {
    if (this.positions) return Promise.resolve();
    this.starting ??= (async () => {
      try {
        const tallies = await this.store.listTallies();
        this.positions = new Map(tallies.map((t) => [t._id, t.notices ?? 0]));
        this.listedAt = Date.now();
        this.schedule();
      } finally {
        this.starting = undefined;
      }
    })();
    return this.starting;
  }

  private idle(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.positions = undefined;
  }

  /** The next tick in `interval`, or sooner than a pending timer set at a slower pace. */
  private schedule(): void {
    if (this.busy === 0 || !this.positions) return;
    const due = Date.now() + this.interval;
    if (this.timer) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.ticking) return;
      this.ticking = true;
      void this.tick().finally(() => {
        this.ticking = false;
        this.schedule();
      });
    }, this.interval);
  }

  private async tick(): Promise<void> {
    const positions = this.positions;
    if (!positions) return;
    try {
      if (Date.now() - this.listedAt >= this.listMs) {
        const live = await this.store.listTallies();
        this.listedAt = Date.now();
        const ids = new Set(live.map((t) => t._id));
        // A tally first seen now belongs to a process that started since: from its first notice.
        for (const id of ids) if (!positions.has(id)) positions.set(id, 0);
        for (const id of positions.keys()) if (!ids.has(id)) positions.delete(id);
      }
      await mapConcurrently([...positions.keys()], POINT_READS_IN_FLIGHT, (id) => this.follow(id, positions));
      if (this.listeners.size > 0) await this.followLog();
      if (this.failing) this.log.info('completion notices readable again');
      this.failing = false;
    } catch (error: unknown) {
      if (!this.failing)
        this.log.warn(
          { err: error },
          'could not read completion notices; waiting requests answer at their deadline',
        );
      this.failing = true;
    }
  }

  /** Reads the notices `tally` sealed since the last one read, and wakes their waiters. */
  private async follow(tally: string, positions: Map<string, number>): Promise<void> {
    const from = positions.get(tally) ?? 0;
    const doc = await this.store.findTally(tally);
    const sealed = doc?.notices ?? 0;
    if (sealed <= from) return;
    for (let n = from + 1; n <= sealed; n += 1) {
      const notice = await this.store.findNotice(tally, n);
      // Its slot holds a later notice: this follower fell a whole ring behind.
      if (!notice) {
        for (const listener of this.listeners) listener.gap();
        continue;
      }
      if (this.listeners.size > 0) this.tell(noticeEvents(notice));
      for (const entry of notice.entries) this.waiters.wake(entry.id);
      positions.set(tally, n);
    }
    positions.set(tally, sealed);
  }

  /** Reads the job-log segments appended since the last one read: the jobs accepted. */
  private async followLog(): Promise<void> {
    for (let i = 0; i < SEGMENTS_PER_TICK && this.logPosition !== undefined; i += 1) {
      const segment = await this.store.log.readSegment(this.logPosition + 1);
      if (!segment || this.logPosition === undefined || this.listeners.size === 0) return;
      this.logPosition = segment.n;
      this.tell(
        segment.jobs.map((job) => ({
          kind: 'accepted' as const,
          id: job.id,
          at: job.at,
          type: job.type,
          ...(job.group !== undefined ? { group: job.group } : {}),
        })),
      );
    }
  }

  private tell(batch: readonly FollowedEvent[]): void {
    if (batch.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener.events(batch);
      } catch (error: unknown) {
        this.log.warn({ err: error }, 'an event listener failed');
      }
    }
  }
}
