import { randomBytes } from 'node:crypto';
/** Builds the manager's Koa app without listening: tests drive it with supertest. */
import Router from '@koa/router';
import Koa from 'koa';
import { AppError, ErrorCode } from '../../errors.js';
import { JOB_TYPE } from '../../handlers/index.js';
import { parseJobId } from '../../jobs/job-id.js';
import { Tally } from '../../jobs/tally.js';
import type { Logger } from '../../log.js';
import type { QueueClient } from '../../queue/index.js';
import type { JobOptions, Store } from '../../store/index.js';
import { createGroupReader } from '../groups/group-progress.js';
import { fanOut } from '../groups/matrix.js';
import { MATRIX_BODY_BYTES, type MatrixSpec, parseMatrixSpec } from '../groups/matrix-spec.js';
import { createJobService } from '../jobs/accept.js';
import { createJobActions } from '../jobs/actions.js';
import { batchRoute } from '../jobs/batch.js';
import { createJobListing, parseListQuery } from '../jobs/listing.js';
import { checkIdempotencyKey, type OptionSource, optionSource, parseJobOptions } from '../jobs/options.js';
import { lookupOutcomes } from '../jobs/outcomes.js';
import { createStatsService } from '../stats/stats.js';
import { listLiveWorkers } from '../stats/workers.js';
import { errorBoundary } from './error-boundary.js';
import { buildOpenApiDocument } from './openapi.js';
import { createManagerMetrics } from './prometheus.js';
import { readJsonBody } from './read-json-body.js';
import { ANY_PATH_ROUTE, answeringRoute, mountRoutes, ROUTES, takesAnyPath } from './routes.js';
import {
  authenticate,
  corsPolicy,
  NO_SECURITY,
  rateLimit,
  type SecurityOptions,
  securityHeaders,
} from './security.js';

export interface AppDeps {
  queue: QueueClient;
  store: Store;
  log: Logger;
  tubePrefix: string;
  maxJsonDepth: number;
  defaultOptions: JobOptions;
  /** beanstalkd's max-job-size as last read from the server. */
  maxJobSize: () => number;
  idempotencyTtlMs: number;
  /** ACCEPT_HOLD_SECONDS: 0 records first; else jobs are put on hold, recorded, kicked. */
  acceptHoldSeconds?: number;
  /** API keys, rate limit, CORS; off when not given. */
  security?: SecurityOptions;
  /** A request body must arrive within this (default 10 s). */
  bodyTimeoutMs?: number;
  /** Take the client address from X-Forwarded-For. */
  trustProxy?: boolean;
  /** Types this manager accepts (JOB_TYPES); empty: the built-in ones. */
  allowedTypes?: readonly string[];
  batchMaxItems?: number;
  batchMaxBytes?: number;
  /** GET /workers and /metrics leave out workers not heard from for this long (default 15 s). */
  workerGoneAfterMs?: number;
  /** Node's process metrics in /metrics (the real manager); off by default for tests. */
  processMetrics?: boolean;
  /** This manager's outcome tally (cancellations); one is made when not given. */
  tally?: Tally;
  /** ACCEPT_ANY_PATH: a POST to a path outside the API's own names is a job (default true). */
  acceptAnyPath?: boolean;
  /** ALLOW_PROTOTYPE_KEYS: accept payloads with `__proto__` or `constructor.prototype` keys (default false). */
  allowPrototypeKeys?: boolean;
}

function idempotencyKeyOf(ctx: Koa.Context): string | undefined {
  return checkIdempotencyKey(ctx.get('Idempotency-Key'));
}

function jobIdOf(ctx: Koa.Context): string {
  const id = parseJobId(ctx.params.id);
  if (id === null) {
    throw new AppError(
      ErrorCode.INVALID_ID,
      'a job id is a UUIDv7 such as 0193b5a0-7c1e-7d3a-9f1e-2b4c6d8e0a1b',
    );
  }
  return id;
}

/** GET's `?payload=`: `true` (the default) or `false`; anything else, or twice, is INVALID_QUERY. */
function wantsPayload(ctx: Koa.Context): boolean {
  const value = ctx.query.payload;
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new AppError(ErrorCode.INVALID_QUERY, 'payload must be true or false, given once');
}

/** Largest JSON envelope around a payload of zero bytes (id, type and keys). */
const ENVELOPE_OVERHEAD = 128;

export function createApp(deps: AppDeps): Koa {
  const jobs = createJobService(deps);
  const actions = createJobActions({
    ...deps,
    tally:
      deps.tally ??
      new Tally({
        id: `manager#${randomBytes(4).toString('hex')}`,
        store: deps.store,
        log: deps.log,
        role: 'manager',
      }),
  });
  const listing = createJobListing(deps);
  const groups = createGroupReader(deps);
  const guardedFanOut = async (spec: MatrixSpec, options: OptionSource) => {
    const result = await fanOut(
      {
        jobs,
        store: deps.store,
        queue: deps.queue,
        defaultOptions: deps.defaultOptions,
        allowedTypes: deps.allowedTypes ?? [],
        maxItems: deps.batchMaxItems ?? 10_000,
        maxBytes: deps.batchMaxBytes ?? 32 * 1024 * 1024,
        onAccepted: (type) => metrics.accepted(type),
      },
      spec,
      options,
    );
    return result;
  };
  const pauseType = async (type: string | undefined, seconds: number) => {
    if (type === undefined || !JOB_TYPE.test(type))
      throw new AppError(ErrorCode.INVALID_QUERY, 'not a job type');
    await deps.queue.pauseTube(`${deps.tubePrefix}${type}`, seconds);
    deps.log.info({ type, seconds }, seconds > 0 ? 'type paused' : 'type resumed');
    return { type, paused: seconds > 0, seconds };
  };
  const workerGoneAfterMs = deps.workerGoneAfterMs ?? 15_000;
  const observed = { ...deps, workerGoneAfterMs };
  const metrics = createManagerMetrics({ ...observed, processMetrics: deps.processMetrics ?? false });
  const stats = createStatsService(observed);
  const openapi = buildOpenApiDocument(ROUTES);
  const app = new Koa();
  app.proxy = deps.trustProxy ?? false;
  const security = deps.security ?? NO_SECURITY;
  const forbidPrototypeKeys = !(deps.allowPrototypeKeys ?? false);
  const router = new Router();

  const postJob = async (ctx: Koa.Context) => {
    const key = idempotencyKeyOf(ctx);
    const body = await readJsonBody(ctx.req, {
      limitBytes: Math.max(1, deps.maxJobSize() - ENVELOPE_OVERHEAD),
      maxDepth: deps.maxJsonDepth,
      timeoutMs: deps.bodyTimeoutMs ?? 10_000,
      forbidPrototypeKeys,
    });
    const requested = parseJobOptions(
      optionSource(ctx.query, (name) => ctx.get(name)),
      deps.defaultOptions,
      deps.allowedTypes ?? [],
    );
    const { replayed, ...accepted } = await jobs.accept(requested, body, key);
    if (!replayed) metrics.accepted(accepted.type);
    ctx.status = replayed ? 200 : 202;
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.set('Location', `/jobs/${accepted.id}`);
    ctx.body = accepted;
  };

  const getJob = async (ctx: Koa.Context) => {
    const id = jobIdOf(ctx);
    const view = await jobs.get(id, { payload: wantsPayload(ctx) });
    if (view === null) throw new AppError(ErrorCode.NOT_FOUND, `no job ${id}`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = view;
  };

  const postBatch = batchRoute({
    jobs,
    forbidPrototypeKeys,
    defaultOptions: deps.defaultOptions,
    allowedTypes: deps.allowedTypes ?? [],
    maxJsonDepth: deps.maxJsonDepth,
    maxItems: deps.batchMaxItems ?? 10_000,
    maxBytes: deps.batchMaxBytes ?? 32 * 1024 * 1024,
    bodyTimeoutMs: deps.bodyTimeoutMs ?? 10_000,
    onAccepted: (type) => metrics.accepted(type),
  });

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
    postBatch,
    cancelJob: async (ctx) => {
      ctx.body = await actions.cancel(jobIdOf(ctx));
    },
    postMatrix: async (ctx) => {
      // The template fits in one job; the axes and rules in MATRIX_BODY_BYTES.
      // The template is checked for prototype keys once it is found (parseMatrixSpec): axis
      // names and rules have their own checks.
      const body = await readJsonBody(ctx.req, {
        limitBytes: MATRIX_BODY_BYTES + deps.maxJobSize(),
        maxDepth: deps.maxJsonDepth,
        timeoutMs: deps.bodyTimeoutMs ?? 10_000,
        forbidPrototypeKeys: false,
      });
      const { status, body: answer } = await guardedFanOut(
        parseMatrixSpec(body.value, body.text, { forbidPrototypeKeys }),
        optionSource(ctx.query, (name) => ctx.get(name)),
      );
      ctx.status = status;
      ctx.body = answer;
    },
    getGroup: async (ctx) => {
      const id = jobIdOf(ctx);
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'application/json';
      ctx.body = await groups.progress(id);
    },
    listJobs: async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await listing.list(parseListQuery(ctx.query));
    },
    pauseType: async (ctx) => {
      const seconds = ctx.query.seconds;
      if (
        typeof seconds !== 'string' ||
        !/^\d{1,7}$/.test(seconds) ||
        Number(seconds) < 1 ||
        Number(seconds) > 2_592_000
      ) {
        throw new AppError(ErrorCode.INVALID_QUERY, 'seconds must be an integer from 1 to 2592000 (30 days)');
      }
      ctx.body = await pauseType(ctx.params.type, Number(seconds));
    },
    resumeType: async (ctx) => {
      ctx.body = await pauseType(ctx.params.type, 0);
    },
    retryJob: async (ctx) => {
      ctx.status = 202;
      ctx.body = await actions.retry(jobIdOf(ctx));
    },
    metrics: async (ctx) => {
      ctx.set('Content-Type', metrics.registry.contentType);
      ctx.body = await metrics.registry.metrics();
    },
    openapi: (ctx) => {
      ctx.body = openapi;
    },
    listWorkers: async (ctx) => {
      const workers = await listLiveWorkers(deps.store, workerGoneAfterMs);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { workers, goneAfterMs: workerGoneAfterMs };
    },
    stats: async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await stats.stats();
    },
    lookupOutcomes: async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await lookupOutcomes(ctx.req, deps.store, deps.bodyTimeoutMs);
    },
  });

  app.use(metrics.httpMiddleware());
  app.use(errorBoundary(deps.log));
  app.use(securityHeaders());
  const cors = corsPolicy(security.corsOrigins);
  if (cors) app.use(cors);
  const acceptAnyPath = deps.acceptAnyPath ?? true;
  app.use(authenticate(security, (ctx) => answeringRoute(router, ROUTES, ctx, acceptAnyPath)?.ops === true));
  const limit = rateLimit(security.rateLimitPerMinute);
  if (limit) app.use(limit);
  app.use(router.routes());
  if (acceptAnyPath) {
    // Reached only when no route answered: a POST outside the API's own names is a job.
    app.use(async (ctx, next) => {
      if (!takesAnyPath(router, ROUTES, ctx)) return next();
      ctx.state.route = ANY_PATH_ROUTE;
      await postJob(ctx);
    });
  }
  app.use(router.allowedMethods());
  return app;
}
