/**
 * A worker's heartbeat: every few seconds it replaces its document in the `workers` side
 * collection with who it is and what it has done (WorkerStats). A graceful stop writes a last
 * one marked `stopped`; a killed worker simply stops beating and the manager leaves it out
 * once WORKER_GONE_AFTER_MS has passed. The loop itself: jobs/heartbeat-loop.ts.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { startHeartbeatLoop } from '../../jobs/heartbeat-loop.js';
import type { Logger } from '../../log.js';
import type { Heartbeats, WorkerDocument } from '../../store/index.js';
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
  const { store, stats, id } = options;
  const startedAt = new Date();
  void store.removeWorkersSeenBefore(new Date(Date.now() - WORKER_DOCUMENT_KEEP_MS)).catch(() => undefined);
  const loop = startHeartbeatLoop<WorkerDocument>({
    log: options.log,
    intervalMs: options.intervalMs,
    save: (doc) => store.saveWorker(doc),
    document(state) {
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
        minutes: stats.minutes(now.getTime()),
        heartbeatMs: options.intervalMs,
        startedAt,
        lastSeen: now,
        ...(state === 'stopped' ? { stoppedAt: now } : {}),
      };
    },
  });
  return { id, stop: () => loop.stop() };
}
