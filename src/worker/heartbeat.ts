/**
 * A worker's heartbeat: every few seconds it replaces its document in the `workers` side
 * collection with who it is and what it has done (WorkerStats). A graceful stop writes a last
 * one marked `stopped`; a killed worker simply stops beating and the manager leaves it out
 * once WORKER_GONE_AFTER_MS has passed. Never on the job path: a failed heartbeat is a log
 * line (on change only) and the next one tries again.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { Heartbeats, WorkerDocument } from '../store/index.js';
import type { WorkerStats } from './worker-stats.js';

/** Worker documents not seen for this long are deleted when a worker starts (no TTL index on FerretDB). */
export const WORKER_DOCUMENT_KEEP_MS = 60 * 60 * 1000;

/** This process's instance id: its name, then a suffix unique to this start (heartbeat and tally share it). */
export function instanceId(name: string): string {
  return `${name}#${randomBytes(4).toString('hex')}`;
}

export interface HeartbeatOptions {
  id: string;
  store: Heartbeats;
  log: Logger;
  stats: WorkerStats;
  intervalMs: number;
  name: string;
  types: readonly string[];
  concurrency: number;
}

export interface Heartbeat {
  /** This process's document id in `workers`. */
  readonly id: string;
  /** Writes the last heartbeat, marked stopped. Idempotent. */
  stop(): Promise<void>;
}

export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { store, log, stats } = options;
  const { id } = options;
  const startedAt = new Date();
  let failing = false;
  let inFlight: Promise<void> | undefined;

  const document = (state: WorkerDocument['state']): WorkerDocument => {
    const now = new Date();
    return {
      _id: id,
      name: options.name,
      host: hostname(),
      pid: process.pid,
      types: [...options.types],
      concurrency: options.concurrency,
      state,
      ...stats.totals(),
      byType: stats.byType(),
      recent: stats.recent(now.getTime()),
      heartbeatMs: options.intervalMs,
      startedAt,
      lastSeen: now,
      ...(state === 'stopped' ? { stoppedAt: now } : {}),
    };
  };

  const beat = (state: WorkerDocument['state']): Promise<void> => {
    const write = store.saveWorker(document(state)).then(
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

  void store.removeWorkersSeenBefore(new Date(Date.now() - WORKER_DOCUMENT_KEEP_MS)).catch(() => undefined);
  void beat('running');
  const timer = setInterval(() => {
    // One at a time: a slow store gets no pile of heartbeats.
    if (inFlight === undefined) void beat('running');
  }, options.intervalMs).unref();

  let stopped: Promise<void> | undefined;
  return {
    id,
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
