/** GET /workers: live workers from their heartbeats in the `workers` side collection. */
import type { Store, WorkerDocument, WorkerTypeCounts } from '../../store/index.js';

export interface WorkerView {
  id: string;
  name: string;
  host: string;
  pid: number;
  types: string[];
  concurrency: number;
  state: 'running';
  completed: number;
  failed: number;
  avgDurationMs: number | null;
  byType: Array<{ type: string; completed: number; failed: number; avgDurationMs: number | null }>;
  startedAt: string;
  lastSeen: string;
}

function average(counts: WorkerTypeCounts): number | null {
  const done = counts.completed + counts.failed;
  return done === 0 ? null : Math.round((counts.durationMsTotal / done) * 10) / 10;
}

/** Worker documents heard from within `goneAfterMs` (running or stopped), for metrics and stats. */
export function recentWorkers(
  store: Store,
  goneAfterMs: number,
  now = Date.now(),
): Promise<WorkerDocument[]> {
  return store.listWorkers(new Date(now - goneAfterMs));
}

/** Whether a worker (or manager) counts as live: still running, and heard from within `goneAfterMs`. */
export function isLive(
  doc: Pick<WorkerDocument, 'state' | 'lastSeen'>,
  goneAfterMs: number,
  now = Date.now(),
): boolean {
  return doc.state === 'running' && now - doc.lastSeen.getTime() <= goneAfterMs;
}

export function workerView(doc: WorkerDocument): WorkerView {
  return {
    id: doc._id,
    name: doc.name,
    host: doc.host,
    pid: doc.pid,
    types: doc.types,
    concurrency: doc.concurrency,
    state: 'running',
    completed: doc.completed,
    failed: doc.failed,
    avgDurationMs: doc.avgDurationMs,
    byType: doc.byType.map((counts) => ({
      type: counts.type,
      completed: counts.completed,
      failed: counts.failed,
      avgDurationMs: average(counts),
    })),
    startedAt: doc.startedAt.toISOString(),
    lastSeen: doc.lastSeen.toISOString(),
  };
}

export async function listLiveWorkers(store: Store, goneAfterMs: number): Promise<WorkerView[]> {
  const now = Date.now();
  const docs = await recentWorkers(store, goneAfterMs, now);
  return docs.filter((doc) => isLive(doc, goneAfterMs, now)).map(workerView);
}
