/**
 * A background pass run now and then, never twice at once: `runOnce()` joins a pass in flight,
 * a failed pass is one log line (on change only) and answers `onFailure`, and the timer waits
 * `intervalMs` after each pass ends. Used by the maintenance passes and the scheduler.
 */
import type { Logger } from '../../log.js';

export interface RepeatingPass<R> {
  /** Runs a pass now, or joins the one in flight. */
  runOnce(): Promise<R>;
  /** Stops the timer and waits for the pass in flight. Idempotent. */
  stop(): Promise<void>;
}

export function startRepeatingPass<R>(options: {
  /** What the log lines call it ("maintenance pass", "scheduler pass"). */
  name: string;
  pass: () => Promise<R>;
  /** What a failed pass answers. */
  onFailure: () => R;
  log: Logger;
  /** 0: no timer (passes run only when asked, as tests do). */
  intervalMs: number;
  /** The wait after a pass that just ended (default: intervalMs); asked only with a timer. */
  nextDelayMs?: (result: R) => number;
}): RepeatingPass<R> {
  const { log, name } = options;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<R> | undefined;
  let stopped = false;
  let failing = false;

  function runOnce(): Promise<R> {
    running ??= options
      .pass()
      .then((report) => {
        if (failing) log.info(`${name} succeeded again`);
        failing = false;
        return report;
      })
      .catch((error: unknown) => {
        if (!failing) log.warn({ err: error }, `${name} failed; will retry`);
        failing = true;
        return options.onFailure();
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().then((result) => schedule(options.nextDelayMs?.(result) ?? options.intervalMs));
    }, delayMs);
    timer.unref();
  };
  if (options.intervalMs > 0) schedule(options.intervalMs);

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
