/**
 * Who waits for a tally's commit (jobs/tally.ts), by tag: one promise per tag, shared by every
 * job tagged with it — a promise and its two functions per job lived until the commit, long
 * enough for the collector to promote them.
 */
export class CommitWaiters {
  private readonly byTag = new Map<
    number,
    { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void }
  >();

  /** How many tags someone waits for. */
  get size(): number {
    return this.byTag.size;
  }

  /** Resolves when `answer` reaches tag `k`; rejects on `rejectAll`. */
  wait(k: number): Promise<void> {
    let waiter = this.byTag.get(k);
    if (waiter === undefined) {
      let resolve = () => {};
      let reject: (error: Error) => void = () => {};
      const promise = new Promise<void>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      waiter = { promise, resolve, reject };
      this.byTag.set(k, waiter);
    }
    return waiter.promise;
  }

  /** Every tag up to `k` is committed: its waiters go on. */
  answer(k: number): void {
    for (const [tag, waiter] of this.byTag) {
      if (tag > k) continue;
      this.byTag.delete(tag);
      waiter.resolve();
    }
  }

  /** Nothing more will be committed: every waiter hears `error`. */
  rejectAll(error: Error): void {
    for (const waiter of this.byTag.values()) waiter.reject(error);
    this.byTag.clear();
  }
}
