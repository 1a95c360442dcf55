/**
 * A worker process whose event loop stops turning (a handler stuck in synchronous code) holds
 * its jobs for good: it touches nothing, deletes nothing, and beanstalkd 1.12 may never time
 * out a job whose connection stays quiet (docs/facts.md). A thread of its own watches the main
 * thread's beat and, past the limit, writes one log line and kills the process, so that
 * beanstalkd hands the jobs to other workers; each such death counts against a job's attempts
 * (delivery-count.ts deliveriesLost), so a job that stalls every worker ends failed. The
 * orchestrator (Swarm, Kubernetes) starts the worker again. Started by the CLI, not by
 * startWorker: killing the process is the entrypoint's decision, not a library's.
 */
import { Worker } from 'node:worker_threads';

export interface StallWatchdogOptions {
  /** How long the event loop may stay blocked before the process is killed (0: never). */
  limitMs: number;
  /** Fields of the one line written before the kill (the role's log fields). */
  logFields: Record<string, unknown>;
  /** Told if the watching thread fails (it then watches no more; the worker runs on). */
  onError: (error: unknown) => void;
}

export interface StallWatchdog {
  /** Ends the watch (idempotent). */
  stop(): Promise<void>;
}

/**
 * The watching thread. It judges only when it ran on time itself: when the whole process was
 * frozen (SIGSTOP, a paused VM), both threads were, and the main thread gets a turn to beat first.
 */
const THREAD = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const beat = new BigInt64Array(workerData.buffer);
const { limitMs, everyMs, logFields } = workerData;
let checkedAt = Date.now();
setInterval(() => {
  const now = Date.now();
  const frozen = now - checkedAt > everyMs * 3;
  checkedAt = now;
  if (frozen) return;
  const blockedMs = now - Number(Atomics.load(beat, 0));
  if (blockedMs < limitMs) return;
  const line = JSON.stringify({
    level: 60,
    time: new Date(now).toISOString(),
    pid: process.pid,
    ...logFields,
    blockedMs,
    limitMs,
    msg: 'the event loop has not turned for too long (a handler stuck in synchronous code?): killing the worker so that beanstalkd hands its jobs to other workers',
  });
  try { writeSync(1, line + '\\n'); } catch {}
  process.kill(process.pid, 'SIGKILL');
}, everyMs);
`;

/** Starts the watch; with a limit of 0, a watchdog that does nothing. */
export function startStallWatchdog(options: StallWatchdogOptions): StallWatchdog {
  if (options.limitMs <= 0) return { stop: async () => undefined };
  // Often enough that a block is seen within a quarter of the limit past it, at most once a second.
  const everyMs = Math.max(50, Math.min(1000, Math.floor(options.limitMs / 4)));
  const beat = new BigInt64Array(new SharedArrayBuffer(8));
  const tick = () => Atomics.store(beat, 0, BigInt(Date.now()));
  tick();
  const beating = setInterval(tick, everyMs);
  beating.unref();
  const thread = new Worker(THREAD, {
    eval: true,
    workerData: { buffer: beat.buffer, limitMs: options.limitMs, everyMs, logFields: options.logFields },
    // The watch needs a few MB at most: not the main thread's heap limits.
    resourceLimits: {
      maxOldGenerationSizeMb: 4,
      maxYoungGenerationSizeMb: 1,
      codeRangeSizeMb: 2,
      stackSizeMb: 1,
    },
  });
  thread.on('error', options.onError);
  thread.unref();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        clearInterval(beating);
        await thread.terminate();
      })();
      return stopped;
    },
  };
}
