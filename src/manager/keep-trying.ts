/** How the manager watches its backends (start-manager.ts): a check kept trying, and a bounded wait. */

/**
 * Calls `fn` until it succeeds, then every `everyMs` (null: no more); tells `onChange` only when
 * the outcome changes. Answers a function that stops it.
 */
export function keepTrying(
  fn: () => Promise<void>,
  retryMs: number,
  everyMs: number | null,
  onChange: (ok: boolean, error?: unknown) => void,
) {
  let timer: NodeJS.Timeout | undefined;
  let last: boolean | undefined;
  let stopped = false;
  const run = async () => {
    let ok = true;
    let failure: unknown;
    try {
      await fn();
    } catch (error: unknown) {
      ok = false;
      failure = error;
    }
    if (ok !== last) onChange(ok, failure);
    last = ok;
    if (stopped) return;
    const wait = ok ? everyMs : retryMs;
    if (wait !== null) timer = setTimeout(run, wait).unref();
  };
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** True if `promise` settles within `ms`, false otherwise. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
