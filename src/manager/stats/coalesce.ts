/**
 * One read for many requests that ask at once (GET /stats, GET /workers): each of those reads
 * several collections whole and decodes every process's throughput buckets, a few milliseconds
 * of the store's and the manager's CPU, the same for every caller.
 *
 * A request never gets an answer read before it came: while a read is out, the requests that
 * come share the next one, which starts when it ends. So at most one read is out and one
 * waits, whatever the number of callers, and each answer is as fresh as an unshared one.
 */
export function coalesceReads<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const reading: Promise<T> = read().finally(() => {
      if (running === reading) running = undefined;
    });
    running = reading;
    return reading;
  };
  return () => {
    if (running === undefined) return start();
    next ??= running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
}
