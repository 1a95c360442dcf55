/**
 * What a route of the table is (routes.ts holds the table, job-routes.ts its jobs part): the
 * shape both parts are written in, so neither has to import the other's.
 */
import { ErrorCode } from '../../../errors.js';
import type { JsonSchema } from '../schemas/schemas.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The handlers createApp must provide: one per name, checked by the compiler. */
export type HandlerName =
  | 'healthz'
  | 'readyz'
  | 'metrics'
  | 'openapi'
  | 'listWorkers'
  | 'stats'
  | 'postJob'
  | 'lookupOutcomes'
  | 'getJob'
  | 'postBatch'
  | 'cancelJob'
  | 'retryJob'
  | 'listJobs'
  | 'pauseType'
  | 'resumeType'
  | 'retryFailedJobs'
  | 'kickBuriedJobs'
  | 'getTypeLimits'
  | 'putTypeLimits'
  | 'deleteTypeLimits'
  | 'postMatrix'
  | 'getGroup'
  | 'listGroups'
  | 'streamEvents'
  | 'createSchedule'
  | 'listSchedules'
  | 'getSchedule'
  | 'pauseSchedule'
  | 'resumeSchedule'
  | 'deleteSchedule';

export interface RouteResponse {
  description: string;
  /** `application/json` unless said otherwise. */
  contentType?: string;
  schema: JsonSchema;
  headers?: Readonly<Record<string, { description: string; schema: JsonSchema }>>;
}

export interface RouteSpec {
  method: HttpMethod;
  /** OpenAPI form (`/jobs/{id}`); the Koa form (`/jobs/:id`) is derived from it. */
  path: string;
  operationId: string;
  handler: HandlerName;
  tag: 'jobs' | 'observe' | 'schedules';
  summary: string;
  description?: string;
  pathParams?: Readonly<Record<string, JsonSchema>>;
  /** Query parameters the operation reads (only those documented one by one). */
  queryParams?: Readonly<Record<string, { description: string; schema: JsonSchema }>>;
  /** Request headers the operation reads (only those documented one by one). */
  headerParams?: Readonly<Record<string, { description: string; schema: JsonSchema }>>;
  requestBody?: { description: string; schema: JsonSchema; example: unknown };
  /** Successful (and, for /readyz, expected 503) answers by status. */
  responses: Readonly<Record<number, RouteResponse>>;
  /** Error codes this route may answer with (the body is the Error schema). */
  errors: readonly ErrorCode[];
  /** A probe or scrape endpoint: with keys set it needs one only when AUTH_OPS=true. */
  ops?: true;
}

/** The errors of a route whose answer needs beanstalkd or MongoDB and finds it down (503). */
export const BACKENDS = [ErrorCode.QUEUE_UNAVAILABLE, ErrorCode.STORE_UNAVAILABLE] as const;
