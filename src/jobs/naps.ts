/**
 * The waits a background loop takes between tries (a backend down), each cut short when the
 * loop stops: the webhook delivery lanes (webhooks/delivery-loop.ts) and the flow loop
 * (manager/background/flow-loop.ts).
 */
export function createNaps() {
  const sleepers = new Set<() => void>();
  return {
    /** Resolves after `ms`, or at once when wakeAll() is called meanwhile. */
    nap(ms: number): Promise<void> {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(wake, ms);
        function wake() {
          clearTimeout(timer);
          sleepers.delete(wake);
          resolve();
        }
        sleepers.add(wake);
      });
    },
    /** Ends every nap under way. */
    wakeAll(): void {
      for (const wake of sleepers) wake();
    },
  };
}
