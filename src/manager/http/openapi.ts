/** Builds the OpenAPI 3.1 document from the route table and its schemas (served at /openapi.json). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, statusOf } from '../../errors.js';
import type { RouteSpec } from './routes/routes.js';
import { HealthSchema, ReadySchema, StatsSchema, WorkersSchema } from './schemas/ops-schemas.js';
import {
  AcceptedJobSchema,
  ErrorSchema,
  JobIdSchema,
  JobPayloadSchema,
  JobStateSchema,
  JobViewSchema,
  type JsonSchema,
  OutcomesRequestSchema,
  OutcomesSchema,
} from './schemas/schemas.js';

/** Names under which the document lists these schemas (components.schemas). */
const NAMED_SCHEMAS: ReadonlyArray<[string, JsonSchema]> = [
  ['JobId', JobIdSchema],
  ['JobPayload', JobPayloadSchema],
  ['JobState', JobStateSchema],
  ['AcceptedJob', AcceptedJobSchema],
  ['JobView', JobViewSchema],
  ['Error', ErrorSchema],
  ['Health', HealthSchema],
  ['Ready', ReadySchema],
  ['Workers', WorkersSchema],
  ['Stats', StatsSchema],
  ['OutcomesRequest', OutcomesRequestSchema],
  ['Outcomes', OutcomesSchema],
];

const DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'bad request',
  404: 'not found',
  405: 'method not allowed',
  409: 'conflict',
  413: 'payload too large',
  415: 'unsupported media type',
  422: 'the Idempotency-Key came first with another request',
  500: 'internal error (a bug; logged)',
  503: 'a backend did not answer in time; try again',
};

function packageVersion(): string {
  // src/manager/ when run from source, dist/src/manager/ when built.
  const here = dirname(fileURLToPath(import.meta.url));
  for (const root of [resolve(here, '..', '..'), resolve(here, '..', '..', '..')]) {
    const path = join(root, 'package.json');
    if (existsSync(path)) {
      const { name, version } = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
      if (name === 'distributed-workers' && version) return version;
    }
  }
  return '0.0.0';
}

/** The named schemas as `$ref`s; anything else inline. */
function ref(schema: JsonSchema): JsonSchema {
  const named = NAMED_SCHEMAS.find(([, candidate]) => candidate === schema);
  return named ? { $ref: `#/components/schemas/${named[0]}` } : schema;
}

function errorResponses(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'INTERNAL' as ErrorCode]) {
    const status = statusOf(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: `${DESCRIPTIONS[status] ?? 'error'}: ${list.map((code) => `\`${code}\``).join(', ')}`,
      content: {
        'application/json': {
          schema: {
            allOf: [ref(ErrorSchema), { properties: { error: { properties: { code: { enum: list } } } } }],
          },
        },
      },
    };
  }
  return out;
}

function operation(route: RouteSpec): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.headers ? { headers: response.headers } : {}),
      content: { [response.contentType ?? 'application/json']: { schema: ref(response.schema) } },
    };
  }
  return {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(route.pathParams || route.queryParams || route.headerParams
      ? {
          parameters: [
            ...Object.entries(route.pathParams ?? {}).map(([name, schema]) => ({
              name,
              in: 'path',
              required: true,
              schema: ref(schema),
            })),
            ...Object.entries(route.queryParams ?? {}).map(([name, { description, schema }]) => ({
              name,
              in: 'query',
              required: false,
              description,
              schema: ref(schema),
            })),
            ...Object.entries(route.headerParams ?? {}).map(([name, { description, schema }]) => ({
              name,
              in: 'header',
              required: false,
              description,
              schema: ref(schema),
            })),
          ],
        }
      : {}),
    ...(route.requestBody
      ? {
          requestBody: {
            required: true,
            description: route.requestBody.description,
            content: {
              'application/json': {
                schema: ref(route.requestBody.schema),
                example: route.requestBody.example,
              },
            },
          },
        }
      : {}),
    // A documented answer (e.g. /readyz's 503 body) wins over the generic error one.
    responses: { ...errorResponses(route.errors), ...responses },
  };
}

export function buildOpenApiDocument(routes: readonly RouteSpec[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'distributed-workers',
      version: packageVersion(),
      description:
        'A job system over plain HTTP: POST a JSON job, read its state and outcome back. Every error is `{"error":{"code","message"}}` with a stable code; any path or method not listed here answers 404 `NOT_FOUND` or 405 `METHOD_NOT_ALLOWED` (with `Allow`), except that with ACCEPT_ANY_PATH (on by default), as in the original system, a POST to a path that does not begin with one of the names the API keeps for itself (/jobs, /groups, /types, /schedules, /workers, /stats, /metrics, /healthz, /readyz, /openapi.json, in any case) is a job, exactly as `POST /`.',
    },
    tags: [
      { name: 'jobs', description: 'enqueue jobs and read them back' },
      { name: 'observe', description: 'health, metrics, workers, statistics, this document' },
      { name: 'schedules', description: 'jobs enqueued on a schedule (cron or a period), one per tick' },
    ],
    paths,
    components: { schemas: Object.fromEntries(NAMED_SCHEMAS) },
  };
}
