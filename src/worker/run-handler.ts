/**
 * Runs one handler call while keeping its job alive: touches the job every half TTR (so
 * beanstalkd never hands a job that is still being worked on to another worker), aborts the
 * call through its signal past the hard timeout or when the worker stops for good, and does
 * not wait for a handler that ignores its signal.
 */
import { errorMessage } from '../errors.js';
import type { Handler, HandlerContext } from '../handlers/index.js';
import type { Envelope, JobParams } from '../jobs/envelope.js';
import { isJsonObject } from '../json-object.js';
import type { Logger } from '../log.js';

export type HandlerRun =
  | { kind: 'completed'; result: Record<string, unknown> }
  | { kind: 'failed'; message: string }
  | { kind: 'stopped' };

export interface RunHandlerOptions {
  handler: Handler;
  envelope: Envelope;
  attempt: number;
  ttrSeconds: number;
  touch: () => Promise<void>;
  workDelayMs: number;
  jobTimeoutMs: number;
  stopSignal: AbortSignal;
  log: Logger;
  /** The handler's `context.progress` (none: progress goes nowhere). */
  progress?: HandlerContext['progress'];
  /** A group's completion job: `context.group`. */
  group?: HandlerContext['group'];
}

class RunAborted extends Error {}

/** `context.params` of a job posted without any: one frozen object for all of them. */
const NO_PARAMS: JobParams = Object.freeze({});

/**
 * What to run when a worker's stop signal fires, by signal: one listener per signal instead of
 * one added and removed per job (EventTarget's bookkeeping was ~300 bytes and two calls a job).
 */
const stopRuns = new WeakMap<AbortSignal, Set<() => void>>();

/** Runs `run` once `signal` aborts, unless `forgetStop` came first. */
function whenStopped(signal: AbortSignal, run: () => void): void {
  let runs = stopRuns.get(signal);
  if (runs === undefined) {
    const all = new Set<() => void>();
    runs = all;
    stopRuns.set(signal, all);
    signal.addEventListener(
      'abort',
      () => {
        for (const each of all) each();
        all.clear();
      },
      { once: true },
    );
  }
  runs.add(run);
}

function forgetStop(signal: AbortSignal, run: () => void): void {
  stopRuns.get(signal)?.delete(run);
}

/** The interval between touches: half the TTR, at least half a second. */
export function touchIntervalMs(ttrSeconds: number): number {
  return Math.max(500, Math.floor((ttrSeconds * 1000) / 2));
}

export async function runHandler(options: RunHandlerOptions): Promise<HandlerRun> {
  const { envelope, log } = options;
  // The handler's signal is made only when the handler reads it: an AbortController per job
  // was a twentieth of a worker's CPU in a drain of jobs that never look at it.
  let controller: AbortController | undefined;
  let reason: 'timeout' | 'stopped' | undefined;
  let abortError: RunAborted | undefined;
  /** Ends the wait for the handler (or the work delay) in hand, which is not waited for further. */
  let rejectAborted: (error: RunAborted) => void = () => undefined;
  /**
   * `work`, or a rejection once the run is aborted: one promise per wait, where a race with a
   * standing "aborted" promise made four more objects per job for the collector.
   */
  const unlessAborted = <T>(work: () => T | PromiseLike<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (abortError) {
        reject(abortError);
        return;
      }
      rejectAborted = reject;
      let out: T | PromiseLike<T>;
      try {
        out = work();
      } catch (error: unknown) {
        reject(error);
        return;
      }
      // A handler may answer without a promise; a native promise is taken as it is.
      Promise.resolve(out).then(resolve, reject);
    });
  const abort = (why: 'timeout' | 'stopped') => {
    if (reason) return;
    reason = why;
    abortError = new RunAborted(
      why === 'timeout' ? `timed out after ${options.jobTimeoutMs} ms` : 'worker stopping',
    );
    controller?.abort(abortError);
    rejectAborted(abortError);
  };
  const signal = (): AbortSignal => {
    if (!controller) {
      controller = new AbortController();
      if (abortError) controller.abort(abortError);
    }
    return controller.signal;
  };
  const onStop = () => abort('stopped');
  if (options.stopSignal.aborted) return { kind: 'stopped' };
  whenStopped(options.stopSignal, onStop);
  const timeout =
    options.jobTimeoutMs > 0 ? setTimeout(() => abort('timeout'), options.jobTimeoutMs) : undefined;
  const toucher = setInterval(() => {
    options.touch().catch((error: unknown) => log.debug({ err: error }, 'touch failed'));
  }, touchIntervalMs(options.ttrSeconds));

  try {
    if (options.workDelayMs > 0) {
      await unlessAborted(() => new Promise<void>((resolve) => setTimeout(resolve, options.workDelayMs)));
    }
    const payload: unknown = JSON.parse(envelope.payload);
    const result = await unlessAborted(() =>
      options.handler(payload, {
        jobId: envelope.id,
        type: envelope.type,
        attempt: options.attempt,
        rawPayload: envelope.payload,
        params: envelope.params ?? NO_PARAMS,
        log,
        get signal() {
          return signal();
        },
        progress: options.progress ?? (() => undefined),
        ...(options.group !== undefined ? { group: options.group } : {}),
      }),
    );
    if (!isJsonObject(result)) {
      return { kind: 'failed', message: 'the handler returned something other than an object' };
    }
    return { kind: 'completed', result };
  } catch (error: unknown) {
    if (reason === 'stopped') return { kind: 'stopped' };
    return { kind: 'failed', message: errorMessage(error).slice(0, 1000) };
  } finally {
    clearInterval(toucher);
    clearTimeout(timeout);
    forgetStop(options.stopSignal, onStop);
  }
}
