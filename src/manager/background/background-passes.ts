/**
 * The background passes, on one manager at a time: a lease in MongoDB (terms of 30 s, each
 * taken by an insert; the holder takes the next one ahead) says which. Each pass makes the limited types' tokens match
 * their limits (jobs/limit-tokens.ts), runs the reconciler (which also settles the job log),
 * retention and the idempotency-key sweep, and builds the job log's type directory (type-index.ts).
 */

import { reconcileAllTokens } from '../../jobs/limit-tokens.js';
import { foldTallies } from '../stats/totals.js';
import { createReconciler, type PassReport, type ReconcilerDeps } from './reconciler.js';
import { startRepeatingPass } from './repeating-pass.js';
import { createRetention } from './retention.js';
import { indexLogTypes } from './type-index.js';

export interface BackgroundPassDeps extends ReconcilerDeps {
  /** Who we are in the lease (host:pid:random). */
  holder: string;
  intervalMs: number;
  /** Completed and cancelled jobs older than this are removed; 0 keeps them. */
  retentionMs: number;
  /** How long an idempotency key answers with its first job. */
  idempotencyTtlMs?: number;
  /**
   * The wait after a pass that stopped at its bound (default: catchUpGapMs() of the pass's own
   * time; the bench sets it to compare).
   */
  catchUpGapMs?: number;
}

const LEASE = 'maintenance';
/**
 * While behind, the wait before the next pass is this share of the last pass's own time: each
 * pass is bounded (2,000 jobs, well within the lease's term), so at one pass per 10 s interval
 * the job log settled about 200 jobs a second, and with a fixed second between passes it could
 * never settle more than 2,000 a second, however fast the store (docs/capacity.md, "What breaks
 * first"). A share keeps the passes at most four fifths of the time on any store, and slows them
 * when the store slows them.
 */
export const CATCH_UP_GAP_SHARE = 0.25;
/** The least wait between catch-up passes. */
export const CATCH_UP_MIN_GAP_MS = 50;

/** The wait before the next pass while behind, after a pass that took `passMs`. */
export function catchUpGapMs(passMs: number): number {
  return Math.max(CATCH_UP_MIN_GAP_MS, Math.round(passMs * CATCH_UP_GAP_SHARE));
}
/** The maintenance lease's term: the same on every manager, whatever its interval (store/records/side-collections.ts). */
export const LEASE_TERM_MS = 30_000;

export function startBackgroundPasses(deps: BackgroundPassDeps): {
  stop(): Promise<void>;
  runOnce(): Promise<PassReport | null>;
} {
  const reconciler = createReconciler(deps);
  const retention = createRetention({
    store: deps.store,
    log: deps.log,
    retentionMs: deps.retentionMs,
    ...(deps.idempotencyTtlMs !== undefined ? { idempotencyTtlMs: deps.idempotencyTtlMs } : {}),
  });
  const { store, log } = deps;
  /** The last pass stopped at its bound while settling or removing: the next one comes soon. */
  let catchingUp = false;
  /** How long the last pass took, lease included (ms). */
  let lastPassMs = 0;
  async function once(): Promise<PassReport | null> {
    catchingUp = false;
    const started = performance.now();
    const report = await maintain();
    lastPassMs = performance.now() - started;
    return report;
  }
  async function maintain(): Promise<PassReport | null> {
    const now = new Date();
    if (!(await store.acquireLease(LEASE, deps.holder, now, LEASE_TERM_MS))) return null;
    await reconcileAllTokens({ ...deps, queue: deps.queue.home });
    const report = await reconciler.pass(now);
    await retention.pass(now);
    const types = await indexLogTypes(store.log);
    await foldTallies(store, now);
    // Not for a walk that only found jobs still queued: checking a long queue again at once
    // would cost reads and peeks and settle nothing.
    catchingUp = (reconciler.behind && report.settled > 0) || retention.behind || types.behind;
    return report;
  }

  const loop = startRepeatingPass<PassReport | null>({
    name: 'maintenance pass',
    pass: once,
    onFailure: () => null,
    log,
    intervalMs: deps.intervalMs,
    nextDelayMs: () =>
      catchingUp ? Math.min(deps.catchUpGapMs ?? catchUpGapMs(lastPassMs), deps.intervalMs) : deps.intervalMs,
  });

  return {
    runOnce: loop.runOnce,
    async stop() {
      await loop.stop();
      await store.releaseLease(LEASE, deps.holder, new Date(), LEASE_TERM_MS).catch(() => undefined);
    },
  };
}
