/**
 * Which tubes each slot of a worker watches for its next reserve (docs/limits-design.md, "Few
 * slots take a limited type's jobs"). Every slot watches the tubes of types without limits. A
 * limited type's tube is watched only by the slots likely to get its tokens: those that have
 * just run one of its jobs (they gave a token back a moment ago), and at most
 * `probesPerType` others — none for `dryMs` after a slot of this worker waited for its tokens
 * in vain. Every slot watching every tube would have each idle slot reserve a limited job it
 * cannot start and release it again: churn that grows with the backlog. The limits themselves
 * hold whatever the slots watch: a job starts only with its tokens (limit-gate.ts). This is
 * the worker's own bookkeeping, rebuilt from nothing when it restarts.
 */
import type { LimitsCache } from './limits-cache.js';

export interface SlotTubesOptions {
  /** The worker's job types, in the order its tubes are watched. */
  types: readonly string[];
  tubeOf: (type: string) => string;
  limits: Pick<LimitsCache, 'get'>;
  probesPerType?: number;
  dryMs?: { concurrency: number; rate: number };
  now?: () => number;
}

interface TypeState {
  /** Slots watching the type without having run one of its jobs since they last took a job. */
  probes: Set<number>;
  /**
   * Probes that have just taken a job, until it starts or is released: still counted, or every
   * slot coming by while a probe waits for tokens would become a probe too.
   */
  pending: Set<number>;
  /** Slots whose last job was one of this type's, run with a run token they kept. */
  continuing: Set<number>;
  /** No new probes before this (ms): a slot here just waited for tokens in vain. */
  dryUntil: number;
  /** Wakes the waiting slots when the dry time ends: one of them may become a probe then. */
  dryEnd?: NodeJS.Timeout;
}

/** Probes per limited type per worker: how many of its idle slots try the type's jobs. */
export const PROBES_PER_TYPE = 2;
/**
 * How long a worker's idle slots leave a type alone after waiting for its tokens in vain: run
 * tokens come back when jobs end, which may take long; rate tokens at the latest burst / rate
 * seconds after their start, and a rate token idle is a start lost for good, so sooner.
 */
export const DRY_MS = Object.freeze({ concurrency: 1000, rate: 250 });

export class SlotTubes {
  private readonly options: SlotTubesOptions;
  private readonly states = new Map<string, TypeState>();
  private readonly waiters = new Set<() => void>();
  private readonly now: () => number;

  constructor(options: SlotTubesOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** The tubes `slot` watches for its next reserve; empty: it waits (waitForChange) instead. */
  plan(slot: number): string[] {
    const tubes: string[] = [];
    const probes = this.options.probesPerType ?? PROBES_PER_TYPE;
    for (const type of this.options.types) {
      const limits = this.options.limits.get(type);
      // Not read yet (MongoDB unreachable since the worker started): its jobs are taken and
      // released for later, as jobs whose outcome cannot be stored are.
      if (limits === null || limits === 'unknown') {
        tubes.push(this.options.tubeOf(type));
        continue;
      }
      const state = this.stateOf(type);
      if (state.continuing.has(slot) || state.probes.has(slot)) {
        tubes.push(this.options.tubeOf(type));
      } else if (state.probes.size + state.pending.size < probes && this.now() >= state.dryUntil) {
        state.probes.add(slot);
        tubes.push(this.options.tubeOf(type));
      }
    }
    return tubes;
  }

  /**
   * Whether a plan of this worker's includes a limited type's tube. Such a slot (a probe, or one
   * that kept a run token) waits in beanstalkd, never parked in the worker: parked it would hold
   * its place as a probe and take none of the type's jobs.
   */
  watchesLimited(tubes: readonly string[]): boolean {
    for (const type of this.options.types) {
      const limits = this.options.limits.get(type);
      if (limits !== null && limits !== 'unknown' && tubes.includes(this.options.tubeOf(type))) return true;
    }
    return false;
  }

  /** The slot reserved a job: a probe's place stays taken until the job starts or goes back. */
  busy(slot: number): void {
    for (const state of this.states.values()) {
      if (state.probes.delete(slot)) state.pending.add(slot);
      state.continuing.delete(slot);
    }
  }

  /** The slot's job started, was released, or was not a limited one: its probe's place is free. */
  settled(slot: number): void {
    let freed = false;
    for (const state of this.states.values()) {
      if (state.pending.delete(slot)) freed = true;
    }
    if (freed) this.notify();
  }

  /** The slot ran a job of `type` with its tokens: it goes on watching the type. */
  finished(slot: number, type: string): void {
    this.stateOf(type).continuing.add(slot);
  }

  /** The slot waited for `type`'s tokens in vain: the worker's idle slots leave it alone a while. */
  missed(type: string, reason: 'rate' | 'concurrency'): void {
    const state = this.stateOf(type);
    const ms = (this.options.dryMs ?? DRY_MS)[reason];
    state.dryUntil = this.now() + ms;
    // Slots parked in the worker re-plan only when woken (worker.ts): the end of the dry
    // time is a change of what they may watch.
    clearTimeout(state.dryEnd);
    state.dryEnd = setTimeout(() => this.notify(), ms).unref();
  }

  /** Clears the dry times' timers (the worker stops). */
  close(): void {
    for (const state of this.states.values()) clearTimeout(state.dryEnd);
  }

  /** Resolves when a slot may have something new to watch, or after `ms` (if given). */
  waitForChange(ms?: number): { done: Promise<void>; wake: () => void } {
    let wake: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => wake(), ms);
      wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
    });
    return { done, wake };
  }

  /** Wakes every slot waiting for something to watch (limits changed, a probe freed). */
  notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private stateOf(type: string): TypeState {
    let state = this.states.get(type);
    if (!state) {
      state = { probes: new Set(), pending: new Set(), continuing: new Set(), dryUntil: 0 };
      this.states.set(type, state);
    }
    return state;
  }
}
