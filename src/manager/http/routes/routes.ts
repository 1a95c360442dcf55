/**
 * The route table: every HTTP route the manager serves, once. createApp registers the Koa
 * routes from it and /openapi.json is generated from it, so the two cannot drift; a test
 * checks that the router holds nothing else. Order matters: Koa tries routes in this order
 * and the first handler answers, so fixed paths come before `/{id}`.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ErrorCode } from '../../../errors.js';
import {
  HealthSchema,
  MetricsSchema,
  OpenApiSchema,
  ReadySchema,
  StatsSchema,
  WorkersSchema,
} from '../schemas/ops-schemas.js';
import { JOB_ROUTES } from './job-routes.js';
import { BACKENDS, type HandlerName, type RouteSpec } from './route-spec.js';
import { SCHEDULE_ROUTES } from './schedule-routes.js';

export type { HandlerName, HttpMethod, RouteResponse, RouteSpec } from './route-spec.js';

export const ROUTES: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/healthz',
    operationId: 'healthz',
    handler: 'healthz',
    tag: 'observe',
    ops: true,
    summary: 'Liveness: 200 while the process runs',
    responses: { 200: { description: 'alive', schema: HealthSchema } },
    errors: [],
  },
  {
    method: 'GET',
    path: '/readyz',
    operationId: 'readyz',
    handler: 'readyz',
    tag: 'observe',
    ops: true,
    summary: 'Readiness: beanstalkd and MongoDB both answer',
    responses: {
      200: { description: 'both backends answer', schema: ReadySchema },
      503: { description: 'a backend does not answer; the body says which', schema: ReadySchema },
    },
    errors: [],
  },
  {
    method: 'GET',
    path: '/metrics',
    operationId: 'metrics',
    handler: 'metrics',
    tag: 'observe',
    ops: true,
    summary: 'Prometheus metrics (jobs by type, queue depth, workers, HTTP durations)',
    responses: {
      200: {
        description: 'the metrics',
        contentType: 'text/plain; version=0.0.4',
        schema: MetricsSchema,
      },
    },
    errors: [],
  },
  {
    method: 'GET',
    path: '/openapi.json',
    operationId: 'openapi',
    handler: 'openapi',
    tag: 'observe',
    summary: 'This document (OpenAPI 3.1)',
    responses: { 200: { description: 'the OpenAPI document', schema: OpenApiSchema } },
    errors: [],
  },
  {
    method: 'GET',
    path: '/workers',
    operationId: 'listWorkers',
    handler: 'listWorkers',
    tag: 'observe',
    summary: 'Live workers from their heartbeats, with their counts',
    description:
      'Workers whose last heartbeat (WORKER_HEARTBEAT_MS) is within WORKER_GONE_AFTER_MS and that have not stopped. Counts are since each worker process started, as of its last heartbeat.',
    responses: { 200: { description: 'the live workers', schema: WorkersSchema } },
    errors: [ErrorCode.STORE_UNAVAILABLE],
  },
  {
    method: 'GET',
    path: '/stats',
    operationId: 'stats',
    handler: 'stats',
    tag: 'observe',
    summary: 'Counts per type and state, totals, and per-second throughput of the last minutes',
    responses: { 200: { description: 'the counts', schema: StatsSchema } },
    errors: [...BACKENDS],
  },
  {
    method: 'GET',
    path: '/events',
    operationId: 'streamEvents',
    handler: 'streamEvents',
    tag: 'observe',
    summary: 'Server-sent events: jobs accepted, started, making progress and ending',
    description:
      'A text/event-stream. Each event has `id: <epoch>-<n>`, `event:` one of accepted, started, progress, completed, failed, cancelled, and `data:` JSON `{id, state, at, type, group?, attempt?, percent?, data?}`. A comment line every EVENT_HEARTBEAT_MS. Reconnecting with `Last-Event-ID` to the same manager within EVENT_RESUME_MS of the last stream closing, and within the last EVENT_WINDOW events, sends what was missed; otherwise an `event: reset` comes first (read the current state, then follow). A client that leaves more than EVENT_STREAM_BUFFER_BYTES unread is disconnected. Events are at least as fresh as the tallies commit them (about 0.2 s); an event may come twice after a process restart.',
    queryParams: {
      type: {
        description: 'only jobs of this type',
        schema: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,62}$' },
      },
      group: {
        description: 'only jobs of this matrix group (its id)',
        schema: { type: 'string', format: 'uuid' },
      },
      id: { description: 'only this job', schema: { type: 'string', format: 'uuid' } },
    },
    responses: {
      200: {
        description: 'the stream (never ends on its own)',
        contentType: 'text/event-stream',
        schema: { type: 'string', description: 'server-sent events (text/event-stream)' },
      },
    },
    errors: [ErrorCode.INVALID_QUERY, ErrorCode.TOO_MANY_STREAMS, ErrorCode.STORE_UNAVAILABLE],
  },
  // Before the jobs part: it ends with `GET /{id}`, which would take `GET /schedules`.
  ...SCHEDULE_ROUTES,
  ...JOB_ROUTES,
];

/** `/jobs/{id}` → `/jobs/:id`. */
export function koaPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/** Names kept although no route of the table has them: the dashboard's files (http/ui.ts). */
const RESERVED_PREFIXES = ['/ui'] as const;

/**
 * The names the API keeps for itself, lower case: the first segment of every path in the
 * table but `/` and `/{id}` (`/jobs`, `/groups`, `/types`, `/schedules`, `/workers`, `/stats`, `/metrics`,
 * `/healthz`, `/readyz`, `/openapi.json`), and `/ui`, where the dashboard is served. Taken
 * from the table, so a new route's name is kept from the day it is added.
 */
export function ownPrefixes(routes: readonly RouteSpec[]): string[] {
  const names = routes
    .map((route) => route.path.split('/')[1] ?? '')
    .filter((name) => name !== '' && !name.startsWith('{'));
  return [...new Set([...names.map((name) => `/${name.toLowerCase()}`), ...RESERVED_PREFIXES])];
}

/** The `route` label HTTP metrics give a job POSTed to a path of the client's choosing. */
export const ANY_PATH_ROUTE = '/*';

/**
 * ACCEPT_ANY_PATH: the original system took a POST to any path as a job. True for a POST that
 * no route serves and whose path does not begin with one of the API's own names (in any
 * case, as the router matches): `POST /submit` becomes a job, while `POST /jobs/bacth`,
 * `POST /Stats` or `POST /jobss` stay a 404 or 405, so a typo in our own paths never does.
 */
export function takesAnyPath(
  router: Router,
  routes: readonly RouteSpec[],
  ctx: Pick<Context, 'method' | 'path'>,
): boolean {
  return routeOf(router, routes, ctx) === undefined && outsideOwnNames(routes, ctx);
}

const prefixesOf = new WeakMap<readonly RouteSpec[], readonly string[]>();

/** A POST whose path does not begin with one of the API's own names. */
function outsideOwnNames(routes: readonly RouteSpec[], ctx: Pick<Context, 'method' | 'path'>): boolean {
  if (ctx.method !== 'POST') return false;
  let prefixes = prefixesOf.get(routes);
  if (prefixes === undefined) {
    prefixes = ownPrefixes(routes);
    prefixesOf.set(routes, prefixes);
  }
  const path = ctx.path.toLowerCase();
  return !prefixes.some((prefix) => path.startsWith(prefix));
}

/** The table's route the router itself will dispatch this request to, if any. */
function routeOf(
  router: Router,
  routes: readonly RouteSpec[],
  ctx: Pick<Context, 'method' | 'path'>,
): RouteSpec | undefined {
  const layer = router.match(ctx.path, ctx.method).pathAndMethod.find((l) => l.methods.length > 0);
  return layer === undefined ? undefined : routes.find((r) => r.operationId === layer.name);
}

/**
 * The table's route that will answer this request, or undefined when none will. It asks the
 * router's own matcher (case-insensitive, optional trailing slash) rather than comparing the
 * path, so `/METRICS/` is /metrics here exactly as in dispatch: a decision taken on the raw
 * path let those spellings past AUTH_OPS. The first route layer answers because no handler
 * calls next; ctx._matchedRoute would name the last one (`/{id}` also matches `/metrics`).
 * Making the router strict and case-sensitive instead would have broken paths clients use
 * (`GET /{id}/` is documented) and still left two matchers that must agree. With
 * `acceptAnyPath`, a POST that takesAnyPath is answered by `POST /`'s route (and handler).
 */
export function answeringRoute(
  router: Router,
  routes: readonly RouteSpec[],
  ctx: Pick<Context, 'method' | 'path'>,
  acceptAnyPath = false,
): RouteSpec | undefined {
  const route = routeOf(router, routes, ctx);
  if (route !== undefined || !acceptAnyPath || !outsideOwnNames(routes, ctx)) return route;
  return routes.find((r) => r.method === 'POST' && r.path === '/');
}

/**
 * Registers every route of the table on the router, each with its handler; the route's
 * pattern goes into ctx.state.route for the HTTP metrics (never the raw path: ids are not
 * label values).
 */
export function mountRoutes(
  router: Router,
  routes: readonly RouteSpec[],
  handlers: Readonly<Record<HandlerName, (ctx: Context) => unknown>>,
): void {
  for (const route of routes) {
    const handler = handlers[route.handler];
    router.register(
      koaPath(route.path),
      [route.method],
      async (ctx) => {
        ctx.state.route = route.path;
        await handler(ctx);
      },
      { name: route.operationId },
    );
  }
}
