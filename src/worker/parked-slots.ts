/**
 * A worker's idle slots that wait in the worker rather than in beanstalkd. Every reserve that
 * times out is a round trip waking both ends, and 64 idle slots made 64 of them a second per
 * worker; so once IDLE_RESERVES slots wait in a reserve on a slot's tubes, the slot parks here
 * until one of them takes a job (worker.ts). A burst wakes them all within a few round trips:
 * each slot that takes a job wakes the longest parked one.
 */

/** How many idle slots of a worker wait in a reserve on the same tubes of a server. */
export const IDLE_RESERVES = 2;

/** A parked slot looks again after this long (ms) even if nothing woke it. */
export const PARKED_RECHECK_MS = 10_000;

type WaitForChange = (ms: number) => { done: Promise<void>; wake: () => void };

export class ParkedSlots {
  private readonly waiting = new Set<() => void>();

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

  /** Resolves when woken (wakeOne, wakeAll, a change of tubes) or after the recheck time. */
  async park(): Promise<void> {
    const wait = this.waitForChange(this.recheckMs);
    this.waiting.add(wait.wake);
    await wait.done;
    this.waiting.delete(wait.wake);
  }

  /** Wakes the slot parked longest, if any. */
  wakeOne(): void {
    for (const wake of this.waiting) {
      // Taken out now, not when its await resumes: a second wakeOne before then wakes another.
      this.waiting.delete(wake);
      wake();
      return;
    }
  }

  /** Wakes every parked slot (the worker stops). */
  wakeAll(): void {
    for (const wake of [...this.waiting]) {
      this.waiting.delete(wake);
      wake();
    }
  }
}
