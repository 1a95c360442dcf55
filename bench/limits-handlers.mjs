// The job types of `npm run bench:limits` (bench/limits.ts), loaded by its workers with
// WORKER_HANDLERS. Each records, in its result, when its run began and ended on this machine's
// clock: inside the run token's hold, so overlaps read from them are the cap's own.

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/** The rate-limited type: a short job (10 ms). */
export async function rated(_payload, context) {
  const start = Date.now();
  await sleep(10, context.signal);
  return { start, end: Date.now() };
}

/** The concurrency-limited type: a job of 200 ms. */
export async function capped(_payload, context) {
  const start = Date.now();
  await sleep(200, context.signal);
  return { start, end: Date.now() };
}
