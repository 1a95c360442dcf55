/**
 * The waits a manager holds on jobs' ends (the completion follower's, docs/completion-design.md):
 * each on one job id, at one of two paces, ending once — woken by a notice naming its job, at
 * its deadline, by its request's abort, or all together when the manager stops.
 */

/** A request's wait (answered within the follower's poll of the end), or the flow loop's (relaxed). */
export type WaitPace = 'prompt' | 'relaxed';

export type WaitEnd = 'ended' | 'timeout' | 'aborted';

/** One wait: `until` resolves once with how it ended; `end` ends it now (a no-op once ended). */
export interface Wait {
  until: Promise<WaitEnd>;
  end: (end: WaitEnd) => void;
}

export class JobWaiters {
  private readonly byId = new Map<string, Set<() => void>>();
  /** Every open wait's end, for endAll(). */
  private readonly ends = new Set<(end: WaitEnd) => void>();
  private prompt = 0;
  private relaxed = 0;
  /** Told after a wait ended and its count went down. */
  private readonly onEnded: () => void;

  constructor(onEnded: () => void) {
    this.onEnded = onEnded;
  }

  /** Open waits of `pace`. */
  count(pace: WaitPace): number {
    return pace === 'prompt' ? this.prompt : this.relaxed;
  }

  /** Opens a wait on `id` that ends by itself after `ms`, or when `signal` aborts. */
  add(id: string, ms: number, pace: WaitPace, signal?: AbortSignal): Wait {
    let finish: (end: WaitEnd) => void = () => undefined;
    const until = new Promise<WaitEnd>((resolve) => {
      finish = resolve;
    });
    const wake = () => end('ended');
    const onAbort = () => end('aborted');
    const timer = setTimeout(() => end('timeout'), ms);
    const set = this.byId.get(id) ?? new Set();
    set.add(wake);
    this.byId.set(id, set);
    if (pace === 'prompt') this.prompt += 1;
    else this.relaxed += 1;
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const end = (how: WaitEnd) => {
      if (settled) return;
      settled = true;
      this.ends.delete(end);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      set.delete(wake);
      if (set.size === 0 && this.byId.get(id) === set) this.byId.delete(id);
      if (pace === 'prompt') this.prompt -= 1;
      else this.relaxed -= 1;
      this.onEnded();
      finish(how);
    };
    this.ends.add(end);
    return { until, end };
  }

  /** Ends every wait on `id` as ended. */
  wake(id: string): void {
    const set = this.byId.get(id);
    if (set) for (const wake of [...set]) wake();
  }

  /** Ends every open wait as `end`. */
  endAll(end: WaitEnd): void {
    for (const each of [...this.ends]) each(end);
  }
}
