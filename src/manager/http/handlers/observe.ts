/** The handlers that observe the system: probes, metrics, the OpenAPI document, workers, stats. */
import type { Context } from 'koa';
import type { QueueSet } from '../../../queue/index.js';
import type { Store } from '../../../store/index.js';
import { coalesceReads } from '../../stats/coalesce.js';
import type { createStatsService } from '../../stats/stats.js';
import { listLiveWorkers } from '../../stats/workers.js';
import type { ManagerMetrics } from '../prometheus.js';

export interface ObserveHandlerDeps {
  queue: QueueSet;
  store: Store;
  metrics: ManagerMetrics;
  stats: ReturnType<typeof createStatsService>;
  /** The document /openapi.json serves, built once. */
  openapi: Record<string, unknown>;
  /** GET /workers leaves out workers not heard from for this long. */
  workerGoneAfterMs: number;
}

/** healthz, readyz, metrics, openapi, listWorkers and stats, by their route-table names. */
export function observeHandlers(deps: ObserveHandlerDeps) {
  const { metrics, workerGoneAfterMs } = deps;
  // Requests that come at once share one read of the heartbeats, as GET /stats does.
  const liveWorkers = coalesceReads(() => listLiveWorkers(deps.store, workerGoneAfterMs));
  return {
    healthz: (ctx: Context) => {
      ctx.body = { status: 'ok' };
    },
    readyz: async (ctx: Context) => {
      const answer = (probe: Promise<unknown>) =>
        probe.then(
          () => 'ok' as const,
          () => 'unavailable' as const,
        );
      const [mongodb, ...servers] = await Promise.all([
        answer(deps.store.ping()),
        ...deps.queue.servers.map((server) => answer(server.stats())),
      ]);
      // One server that answers takes every put (queue/queue-set.ts): the manager can accept.
      const beanstalkd = servers.includes('ok') ? 'ok' : 'unavailable';
      const ready = mongodb === 'ok' && beanstalkd === 'ok';
      ctx.status = ready ? 200 : 503;
      ctx.body = {
        status: ready ? 'ready' : 'unavailable',
        beanstalkd,
        mongodb,
        // With several servers (BEANSTALK_SERVERS), each one's answer.
        ...(servers.length > 1
          ? {
              beanstalkdServers: Object.fromEntries(deps.queue.servers.map((s, i) => [s.server, servers[i]])),
            }
          : {}),
      };
    },
    metrics: async (ctx: Context) => {
      ctx.set('Content-Type', metrics.registry.contentType);
      ctx.body = await metrics.registry.metrics();
    },
    openapi: (ctx: Context) => {
      ctx.body = deps.openapi;
    },
    listWorkers: async (ctx: Context) => {
      const workers = await liveWorkers();
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { workers, goneAfterMs: workerGoneAfterMs };
    },
    stats: async (ctx: Context) => {
      const text = await deps.stats.statsJson();
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'application/json';
      ctx.body = text;
    },
  };
}
