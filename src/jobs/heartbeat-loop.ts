/**
 * The loop behind a process's heartbeat (a worker's in `workers`, a manager's in `managers`):
 * write a document now and every `intervalMs`, one write at a time (a slow store gets no pile
 * of them), and a last one marked `stopped` on stop. Never on the job path: a failed write is
 * a log line (on change only) and the next beat tries again.
 */
import type { Logger } from '../log.js';

export type BeatState = 'running' | 'stopped';

export interface HeartbeatLoop {
  /** Writes the last heartbeat, marked stopped. Idempotent. */
  stop(): Promise<void>;
}

export function startHeartbeatLoop<D>(options: {
  document(state: BeatState): D;
  save(doc: D): Promise<void>;
  log: Logger;
  intervalMs: number;
}): HeartbeatLoop {
  const { log } = options;
  let failing = false;
  let inFlight: Promise<void> | undefined;

  const beat = (state: BeatState): Promise<void> => {
    const write = options.save(options.document(state)).then(
      () => {
        if (failing) log.info('heartbeats stored again');
        failing = false;
      },
      (error: unknown) => {
        if (!failing) log.warn({ err: error }, 'could not store a heartbeat; will retry');
        failing = true;
      },
    );
    const tracked: Promise<void> = write.finally(() => {
      if (inFlight === tracked) inFlight = undefined;
    });
    inFlight = tracked;
    return tracked;
  };

  void beat('running');
  const timer = setInterval(() => {
    if (inFlight === undefined) void beat('running');
  }, options.intervalMs).unref();

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await inFlight;
        await beat('stopped');
      })();
      return stopped;
    },
  };
}
