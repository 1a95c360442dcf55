/** Builds the manager's Koa app without listening: tests drive it with supertest. */
import Router from '@koa/router';
import Koa from 'koa';
import { AppError, ErrorCode } from '../errors.js';
import { DEFAULT_JOB_TYPE } from '../handlers/index.js';
import { parseJobId } from '../jobs/job-id.js';
import type { Logger } from '../log.js';
import type { QueueClient } from '../queue/index.js';
import type { JobOptions, Store } from '../store/index.js';
import { errorBoundary } from './error-boundary.js';
import { createJobService, toServiceError } from './job-service.js';
import { createManagerMetrics } from './metrics.js';
import { buildOpenApiDocument } from './openapi.js';
import { lookupOutcomes } from './outcomes.js';
import { readJsonBody } from './read-json-body.js';
import { mountRoutes, ROUTES } from './routes.js';
import { createStatsService } from './stats-service.js';
import { listLiveWorkers } from './workers-view.js';

export interface AppDeps {
  queue: QueueClient;
  store: Store;
  log: Logger;
  tubePrefix: string;
  maxJsonDepth: number;
  defaultOptions: JobOptions;
  /** beanstalkd's max-job-size as last read from the server. */
  maxJobSize: () => number;
  /** GET /workers and /metrics leave out workers not heard from for this long (default 15 s). */
  workerGoneAfterMs?: number;
  /** Node's process metrics in /metrics (the real manager); off by default for tests. */
  processMetrics?: boolean;
}

/** Largest JSON envelope around a payload of zero bytes (id, type and keys). */
const ENVELOPE_OVERHEAD = 128;

export function createApp(deps: AppDeps): Koa {
  const jobs = createJobService(deps);
  const workerGoneAfterMs = deps.workerGoneAfterMs ?? 15_000;
  const observed = { ...deps, workerGoneAfterMs };
  const metrics = createManagerMetrics({ ...observed, processMetrics: deps.processMetrics ?? false });
  const stats = createStatsService(observed);
  const openapi = buildOpenApiDocument(ROUTES);
  const app = new Koa();
  app.proxy = false;
  const router = new Router();

  const postJob = async (ctx: Koa.Context) => {
    const body = await readJsonBody(ctx.req, {
      limitBytes: Math.max(1, deps.maxJobSize() - ENVELOPE_OVERHEAD),
      maxDepth: deps.maxJsonDepth,
    });
    const accepted = await jobs.accept(DEFAULT_JOB_TYPE, body);
    metrics.accepted(accepted.type);
    ctx.status = 202;
    ctx.set('Location', `/jobs/${accepted.id}`);
    ctx.body = accepted;
  };

  const getJob = async (ctx: Koa.Context) => {
    const raw = ctx.params.id;
    const id = parseJobId(raw);
    if (id === null)
      throw new AppError(
        ErrorCode.INVALID_ID,
        'a job id is a UUIDv7 such as 0193b5a0-7c1e-7d3a-9f1e-2b4c6d8e0a1b',
      );
    const view = await jobs.get(id);
    if (view === null) throw new AppError(ErrorCode.NOT_FOUND, `no job ${id}`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = view;
  };

  const healthz = (ctx: Koa.Context) => {
    ctx.body = { status: 'ok' };
  };
  const readyz = async (ctx: Koa.Context) => {
    const [mongodb, beanstalkd] = await Promise.all([
      deps.store.ping().then(
        () => 'ok',
        () => 'unavailable',
      ),
      deps.queue.stats().then(
        () => 'ok',
        () => 'unavailable',
      ),
    ]);
    const ready = mongodb === 'ok' && beanstalkd === 'ok';
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', beanstalkd, mongodb };
  };

  // Every route comes from the table in routes.ts, which /openapi.json documents.
  mountRoutes(router, ROUTES, {
    healthz,
    readyz,
    postJob,
    getJob,
    metrics: async (ctx) => {
      ctx.set('Content-Type', metrics.registry.contentType);
      ctx.body = await metrics.registry.metrics();
    },
    openapi: (ctx) => {
      ctx.body = openapi;
    },
    listWorkers: async (ctx) => {
      let workers: Awaited<ReturnType<typeof listLiveWorkers>>;
      try {
        workers = await listLiveWorkers(deps.store, workerGoneAfterMs);
      } catch (error: unknown) {
        throw toServiceError(error);
      }
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { workers, goneAfterMs: workerGoneAfterMs };
    },
    stats: async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await stats.stats();
    },
    lookupOutcomes: async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await lookupOutcomes(ctx.req, deps.store);
    },
  });

  app.use(metrics.httpMiddleware());
  app.use(errorBoundary(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
