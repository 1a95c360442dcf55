/**
 * Which of a worker's slots wait in a blocking reserve, and on which tubes: a slot with deletes
 * to send asks whether another waits beside it before it polls, an idle slot whether enough
 * others wait on its tubes to leave beanstalkd alone (worker.ts, "parked"), and stop() closes
 * the connections of those that wait (they hold no job).
 */
export class ReserveWaiters {
  private readonly waiting = new Map<number, readonly string[]>();

  /** `serverOf(slot)`: the beanstalkd server the slot reserves from. */
  constructor(private readonly serverOf: (slot: number) => string | undefined) {}

  /** The slot waits in a reserve watching `tubes`. */
  enter(slot: number, tubes: readonly string[]): void {
    this.waiting.set(slot, tubes);
  }

  /** The slot's reserve ended (a job, a timeout or an error). */
  leave(slot: number): void {
    this.waiting.delete(slot);
  }

  /** The slots waiting now. */
  slots(): IterableIterator<number> {
    return this.waiting.keys();
  }

  /**
   * Whether another slot waits in a reserve on `server` watching every one of `tubes` (none
   * given: any slot there). Such a slot takes a job that becomes ready in them at once, so this
   * slot's poll (reserve-with-timeout 0) would find none, and its deletes may wait for a commit
   * shared with the jobs ending next to it. With `atLeast`: whether that many others do.
   */
  beside(slot: number, server: string, tubes: readonly string[] = [], atLeast = 1): boolean {
    let found = 0;
    for (const [other, watched] of this.waiting) {
      if (other === slot || this.serverOf(other) !== server) continue;
      if (tubes.every((tube) => watched.includes(tube)) && ++found >= atLeast) return true;
    }
    return false;
  }
}
