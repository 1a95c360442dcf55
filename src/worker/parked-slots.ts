/**
 * A worker's idle slots that wait in the worker rather than in beanstalkd. Every reserve that
 * times out is a round trip waking both ends, and 64 idle slots made 64 of them a second per
 * worker; so once IDLE_RESERVES slots wait in a reserve on a slot's tubes, the slot parks here
 * until one of them takes a job (worker.ts). A burst wakes them all within a few round trips:
 * each slot that takes a job wakes the longest parked one of its server.
 */

/** How many idle slots of a worker wait in a reserve on the same tubes of a server. */
export const IDLE_RESERVES = 2;

/** Parked slots look again this often (ms) even if nothing woke them: all at once, one timer. */
export const PARKED_RECHECK_MS = 10_000;

type WaitForChange = () => { done: Promise<void>; wake: () => void };

export class ParkedSlots {
  /** Each parked slot's wake, with the server it reserves from, longest parked first. */
  private readonly waiting = new Map<() => void, string>();
  private recheck: NodeJS.Timeout | undefined;

  /**
   * `waitForChange`: the slots' tubes' own wait (limits/slot-tubes.ts), so that a parked slot
   * also wakes when what it may watch changes.
   */
  constructor(
    private readonly waitForChange: WaitForChange,
    private readonly recheckMs = PARKED_RECHECK_MS,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  /**
   * Parks a slot that reserves from `server` (`host:port`); resolves when woken (wakeOne,
   * wakeAll, a change of tubes) or at the next recheck.
   */
  async park(server: string): Promise<void> {
    const wait = this.waitForChange();
    this.waiting.set(wait.wake, server);
    // One timer for every parked slot: a timer each would wake the process once per slot.
    this.recheck ??= setTimeout(() => {
      this.recheck = undefined;
      this.wakeAll();
    }, this.recheckMs).unref();
    await wait.done;
    this.waiting.delete(wait.wake);
    if (this.waiting.size === 0 && this.recheck !== undefined) {
      clearTimeout(this.recheck);
      this.recheck = undefined;
    }
  }

  /** Wakes the slot parked longest among those reserving from `server`, if any. */
  wakeOne(server: string): void {
    for (const [wake, parkedOn] of this.waiting) {
      if (parkedOn !== server) continue;
      // Taken out now, not when its await resumes: a second wakeOne before then wakes another.
      this.waiting.delete(wake);
      wake();
      return;
    }
  }

  /** Wakes every parked slot (the worker stops). */
  wakeAll(): void {
    for (const wake of [...this.waiting.keys()]) {
      this.waiting.delete(wake);
      wake();
    }
  }
}
