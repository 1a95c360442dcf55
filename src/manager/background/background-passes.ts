/**
 * The background passes, on one manager at a time: a lease in MongoDB (three intervals long,
 * at least 30 s, renewed each pass) says which. Each pass runs the reconciler (which also
 * settles the job log), retention and the idempotency-key sweep.
 */

import { foldTallies } from '../stats/totals.js';
import { createReconciler, type PassReport, type ReconcilerDeps } from './reconciler.js';
import { createRetention } from './retention.js';

export interface BackgroundPassDeps extends ReconcilerDeps {
  /** Who we are in the lease (host:pid:random). */
  holder: string;
  intervalMs: number;
  /** Completed and cancelled jobs older than this are removed; 0 keeps them. */
  retentionMs: number;
  /** How long an idempotency key answers with its first job. */
  idempotencyTtlMs?: number;
}

const LEASE = 'maintenance';

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
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<PassReport | null> | undefined;
  let stopped = false;
  let failing = false;

  async function once(): Promise<PassReport | null> {
    const now = new Date();
    if (!(await store.acquireLease(LEASE, deps.holder, now, Math.max(deps.intervalMs * 3, 30_000))))
      return null;
    const report = await reconciler.pass(now);
    await retention.pass(now);
    await foldTallies(store, now);
    return report;
  }

  function runOnce(): Promise<PassReport | null> {
    running ??= once()
      .then((report) => {
        if (failing) log.info('maintenance pass succeeded again');
        failing = false;
        return report;
      })
      .catch((error: unknown) => {
        if (!failing) log.warn({ err: error }, 'maintenance pass failed; will retry');
        failing = true;
        return null;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().finally(schedule);
    }, deps.intervalMs);
    timer.unref();
  };
  if (deps.intervalMs > 0) schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await store.releaseLease(LEASE, deps.holder).catch(() => undefined);
    },
  };
}
