/** Builds the manager's Koa app without listening: tests drive it with supertest. */

import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import Koa from 'koa';
import { MANAGER_SETTINGS } from '../../config/manager-settings.js';
import { Tally } from '../../jobs/tally.js';
import type { Logger } from '../../log.js';
import type { QueueSet } from '../../queue/index.js';
import type { JobOptions, Store } from '../../store/index.js';
import type { AcceptCounts } from '../background/manager-heartbeat.js';
import { EventHub } from '../events/event-hub.js';
import { createGroupListing } from '../groups/group-list.js';
import { createGroupReader } from '../groups/group-progress.js';
import { createJobService } from '../jobs/accept/accept.js';
import type { WebhookPolicy } from '../jobs/accept/callback.js';
import { createJobActions } from '../jobs/actions.js';
import { CompletionFollower } from '../jobs/completion-follower.js';
import { createJobListing } from '../jobs/read/listing.js';
import { createScheduleService } from '../schedules/schedule-service.js';
import { createStatsService } from '../stats/stats.js';
import { errorBoundary } from './error-boundary.js';
import { eventHandlers } from './handlers/events.js';
import { groupHandlers } from './handlers/groups.js';
import { parseIdParam } from './handlers/job-id.js';
import { type AcceptLimits, jobHandlers } from './handlers/jobs.js';
import { limitHandlers } from './handlers/limits.js';
import { observeHandlers } from './handlers/observe.js';
import { pauseHandlers } from './handlers/pause.js';
import { scheduleHandlers } from './handlers/schedules.js';
import { buildOpenApiDocument } from './openapi.js';
import { createManagerMetrics } from './prometheus.js';
import type { RequestsInHand } from './requests-in-hand.js';
import { ANY_PATH_ROUTE, answeringRoute, mountRoutes, ROUTES, takesAnyPath } from './routes/routes.js';
import {
  authenticate,
  corsPolicy,
  NO_SECURITY,
  rateLimit,
  type SecurityOptions,
  securityHeaders,
} from './security.js';
import { serveDashboard } from './ui.js';

export interface AppDeps {
  queue: QueueSet;
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
  /** MAX_WAITERS: most `GET ?wait=` requests waiting at once. */
  maxWaiters?: number;
  /** What a POST's `callback_url` is checked against (ManagerConfig.webhooks); absent: webhooks off. */
  webhooks?: WebhookPolicy;
  /** How completions reach this manager; one is made when not given. */
  follower?: CompletionFollower;
  /** The event streams' hub (the manager closes it on stop); one is made when not given. */
  eventHub?: EventHub;
  /** GET /events: EVENT_HEARTBEAT_MS and EVENT_STREAM_BUFFER_BYTES. */
  events?: { heartbeatMs: number; maxBufferBytes: number };
  /** GET /workers and /metrics leave out workers not heard from for this long (default 15 s). */
  workerGoneAfterMs?: number;
  /** Counts each newly accepted job for the manager's heartbeat (GET /stats `accepted`). */
  acceptCounts?: AcceptCounts;
  /** Node's process metrics in /metrics (the real manager); off by default for tests. */
  processMetrics?: boolean;
  /** This manager's outcome tally (cancellations); one is made when not given. */
  tally?: Tally;
  /** ACCEPT_ANY_PATH: a POST to a path outside the API's own names is a job (default true). */
  acceptAnyPath?: boolean;
  /** ALLOW_PROTOTYPE_KEYS: accept payloads with `__proto__` or `constructor.prototype` keys (default false). */
  allowPrototypeKeys?: boolean;
  /** The dashboard's built files, served under /ui/ (default: dist/ui, see http/ui.ts). */
  uiDir?: string;
  /** Counts the requests in hand, for the manager's stop to wait for (requests-in-hand.ts). */
  inHand?: RequestsInHand;
}

/** The services, the handlers of every route in the table, and the middleware chain around them. */
export function createApp(deps: AppDeps): Koa {
  const jobs = createJobService(deps);
  const tally =
    deps.tally ??
    new Tally({
      id: `manager#${randomBytes(4).toString('hex')}`,
      store: deps.store,
      log: deps.log,
      role: 'manager',
    });
  const actions = createJobActions({ ...deps, tally });
  const workerGoneAfterMs = deps.workerGoneAfterMs ?? MANAGER_SETTINGS.WORKER_GONE_AFTER_MS.default;
  const observed = { ...deps, workerGoneAfterMs };
  const follower = deps.follower ?? createFollower(deps);
  const hub = deps.eventHub ?? createEventHub(follower, deps.log);
  const metrics = createManagerMetrics({
    ...observed,
    processMetrics: deps.processMetrics ?? false,
    waiting: () => follower.waiting,
    streams: () => hub.size,
  });
  // With the manager's counts (the real manager), jobs reach the metric through them, the
  // scheduler's too; without (tests of the app alone), directly.
  const counts = deps.acceptCounts;
  counts?.listen((type) => metrics.accepted(type));
  const onAccepted = counts
    ? (type: string) => counts.record(type)
    : (type: string) => metrics.accepted(type);
  const limits: AcceptLimits = {
    defaultOptions: deps.defaultOptions,
    allowedTypes: deps.allowedTypes ?? [],
    maxJobSize: deps.maxJobSize,
    maxJsonDepth: deps.maxJsonDepth,
    bodyTimeoutMs: deps.bodyTimeoutMs ?? MANAGER_SETTINGS.BODY_TIMEOUT_MS.default,
    forbidPrototypeKeys: !(deps.allowPrototypeKeys ?? false),
    maxItems: deps.batchMaxItems ?? MANAGER_SETTINGS.BATCH_MAX_ITEMS.default,
    maxBytes: deps.batchMaxBytes ?? MANAGER_SETTINGS.BATCH_MAX_BYTES.default,
  };
  const { queue, store } = deps;
  const jobRoutes = jobHandlers({
    jobs,
    actions,
    listing: createJobListing(deps),
    store,
    limits,
    onAccepted,
    follower,
    log: deps.log,
  });

  const router = new Router();
  // Every `{id}` is parsed once, before its route's handler runs.
  router.param('id', parseIdParam(ROUTES));
  // Every route comes from the table in routes.ts, which /openapi.json documents.
  mountRoutes(router, ROUTES, {
    ...observeHandlers({
      queue,
      store,
      metrics,
      stats: createStatsService(observed),
      openapi: buildOpenApiDocument(ROUTES),
      workerGoneAfterMs,
    }),
    ...jobRoutes,
    ...groupHandlers({
      jobs,
      groups: createGroupReader(deps),
      groupList: createGroupListing(deps),
      store,
      queue,
      limits,
      onAccepted,
    }),
    ...pauseHandlers(deps),
    ...limitHandlers({ ...deps, bodyTimeoutMs: limits.bodyTimeoutMs }),
    ...scheduleHandlers({
      schedules: createScheduleService(deps),
      limits,
      ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
      checkQueuedSize: jobs.checkQueuedSize,
    }),
    ...eventHandlers({
      hub,
      log: deps.log,
      heartbeatMs: deps.events?.heartbeatMs ?? MANAGER_SETTINGS.EVENT_HEARTBEAT_MS.default,
      maxBufferBytes: deps.events?.maxBufferBytes ?? MANAGER_SETTINGS.EVENT_STREAM_BUFFER_BYTES.default,
      onDropped: () => metrics.streamDropped(),
    }),
  });

  const app = new Koa();
  app.proxy = deps.trustProxy ?? false;
  // Errors Koa meets outside the middleware (a response stream that fails: a client gone
  // mid-answer, an event stream reset) would otherwise go to stderr as bare stacks.
  app.on('error', (error: unknown) => {
    const code = (error as { code?: unknown }).code;
    if (
      code === 'ECONNRESET' ||
      code === 'EPIPE' ||
      code === 'ECONNABORTED' ||
      code === 'ERR_STREAM_PREMATURE_CLOSE'
    )
      return;
    deps.log.warn({ err: error }, 'HTTP response failed');
  });
  const security = deps.security ?? NO_SECURITY;
  if (deps.inHand) app.use(deps.inHand.middleware());
  app.use(metrics.httpMiddleware());
  app.use(errorBoundary(deps.log));
  app.use(securityHeaders());
  // The dashboard's files: before the key check (the page asks for the key itself) and the router.
  app.use(serveDashboard(deps.uiDir === undefined ? {} : { dir: deps.uiDir }));
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
      await jobRoutes.postJob(ctx);
    });
  }
  app.use(router.allowedMethods());
  return app;
}

/** The follower of completion notices (long-poll and events), MAX_WAITERS given. */
export function createFollower(deps: Pick<AppDeps, 'store' | 'log' | 'maxWaiters'>): CompletionFollower {
  return new CompletionFollower({
    store: deps.store,
    log: deps.log,
    maxWaiters: deps.maxWaiters ?? MANAGER_SETTINGS.MAX_WAITERS.default,
  });
}

/** The event streams' hub with the settings' defaults, or the ones given. */
export function createEventHub(
  follower: CompletionFollower,
  log: Logger,
  settings: { maxStreams?: number; window?: number; resumeMs?: number } = {},
): EventHub {
  return new EventHub({
    follower,
    log,
    maxStreams: settings.maxStreams ?? MANAGER_SETTINGS.MAX_EVENT_STREAMS.default,
    window: settings.window ?? MANAGER_SETTINGS.EVENT_WINDOW.default,
    lingerMs: settings.resumeMs ?? MANAGER_SETTINGS.EVENT_RESUME_MS.default,
  });
}
