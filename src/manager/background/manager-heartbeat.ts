/**
 * A manager's heartbeat: every few seconds it replaces its document in the `managers` side
 * collection with the jobs it accepted, per second for the last few minutes and per minute for
 * the last hour (AcceptCounts). GET /stats sums these for the throughput chart's "accepted".
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { startHeartbeatLoop } from '../../jobs/heartbeat-loop.js';
import { RateBuckets } from '../../jobs/rate-buckets.js';
import type { Logger } from '../../log.js';
import type { ManagerDocument, ManagerHeartbeats } from '../../store/index.js';

/** How often a manager writes its heartbeat. */
export const MANAGER_HEARTBEAT_MS = 2000;
/** Manager documents not seen for this long are deleted when a manager starts (no TTL index on FerretDB). */
export const MANAGER_DOCUMENT_KEEP_MS = 60 * 60 * 1000;

/** The jobs this manager accepted: a total, and per second and per minute. */
export class AcceptCounts {
  private total = 0;
  private readonly rates = new RateBuckets(['accepted'] as const);
  private readonly listeners: Array<(type: string) => void> = [];

  /**
   * Also tells `listener` each accepted job's type: the HTTP routes and the scheduler both
   * count here, and /metrics' `dw_jobs_accepted_total` listens, so neither is left out.
   */
  listen(listener: (type: string) => void): void {
    this.listeners.push(listener);
  }

  /** Counts one newly accepted job (not a replayed Idempotency-Key). */
  record(type: string, atMs: number = Date.now()): void {
    this.total += 1;
    this.rates.add('accepted', atMs);
    for (const listener of this.listeners) listener(type);
  }

  snapshot(nowMs: number): Pick<ManagerDocument, 'accepted' | 'recent' | 'minutes'> {
    return { accepted: this.total, recent: this.rates.seconds(nowMs), minutes: this.rates.minutes(nowMs) };
  }
}

export interface ManagerHeartbeat {
  /** Writes the last heartbeat, marked stopped. Idempotent. */
  stop(): Promise<void>;
}

export function startManagerHeartbeat(options: {
  store: ManagerHeartbeats;
  counts: AcceptCounts;
  log: Logger;
  intervalMs?: number;
}): ManagerHeartbeat {
  const { store, counts } = options;
  const intervalMs = options.intervalMs ?? MANAGER_HEARTBEAT_MS;
  const id = `${hostname()}:${process.pid}#${randomBytes(4).toString('hex')}`;
  const startedAt = new Date();
  void store.removeManagersSeenBefore(new Date(Date.now() - MANAGER_DOCUMENT_KEEP_MS)).catch(() => undefined);
  return startHeartbeatLoop<ManagerDocument>({
    log: options.log,
    intervalMs,
    save: (doc) => store.saveManager(doc),
    document(state) {
      const now = new Date();
      return {
        _id: id,
        host: hostname(),
        pid: process.pid,
        state,
        ...counts.snapshot(now.getTime()),
        heartbeatMs: intervalMs,
        startedAt,
        lastSeen: now,
        ...(state === 'stopped' ? { stoppedAt: now } : {}),
      };
    },
  });
}
