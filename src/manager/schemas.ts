/**
 * JSON Schema (2020-12, as OpenAPI 3.1 uses it) for every request and response of the HTTP
 * API. The route table (routes.ts) points at these objects, the OpenAPI document is built
 * from them, and the request checks read their limits from them: one description, no drift.
 * The tests validate real answers against these same objects.
 */
import { ErrorCode } from '../errors.js';

/** A JSON Schema object; kept loose on purpose (it is data for the document and validators). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** What parseJobId accepts (any case); a unit test checks the two agree. */
export const JOB_ID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$';

const timestamp = { type: 'string', format: 'date-time' } as const;
const count = { type: 'integer', minimum: 0 } as const;

export const JobIdSchema: JsonSchema = {
  type: 'string',
  pattern: JOB_ID_PATTERN,
  description: 'A job id: a UUIDv7 minted by the manager (time-sortable); any letter case is accepted.',
  examples: ['01a2088b-df96-7646-bd15-7540a8817d53'],
};

export const JobPayloadSchema: JsonSchema = {
  type: ['object', 'array'],
  description:
    "The job: any JSON object or array, sent as application/json (UTF-8), at most MAX_JSON_DEPTH levels deep and small enough to fit beanstalkd's max-job-size once queued. The `hash` result is the MD5 of these bytes exactly as received.",
  examples: [{ example: 'data' }],
};

export const JobStateSchema: JsonSchema = {
  type: 'string',
  enum: ['queued', 'delayed', 'running', 'buried', 'completed', 'failed', 'cancelled'],
};

export const ErrorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', enum: Object.values(ErrorCode) },
        message: { type: 'string' },
      },
    },
  },
};

export const AcceptedJobSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'state', 'type', 'createdAt'],
  additionalProperties: false,
  properties: {
    id: JobIdSchema,
    state: { type: 'string', enum: ['queued', 'delayed'] },
    type: { type: 'string' },
    createdAt: timestamp,
  },
};

const QueueViewSchema = {
  type: ['object', 'null'],
  description:
    "beanstalkd's live `stats-job` fields while it holds the job (seconds); null when the job is recorded but beanstalkd has no copy of it.",
  required: ['tube', 'priority', 'age', 'delay', 'ttr', 'timeLeft', 'reserves', 'timeouts', 'releases'],
  properties: {
    tube: { type: 'string' },
    priority: count,
    age: count,
    delay: count,
    ttr: count,
    timeLeft: { type: 'integer' },
    reserves: count,
    timeouts: count,
    releases: count,
    buries: count,
    kicks: count,
  },
} as const;

export const JobViewSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'type', 'state', 'createdAt', 'attempts'],
  properties: {
    id: JobIdSchema,
    type: { type: 'string' },
    state: JobStateSchema,
    createdAt: timestamp,
    attempts: count,
    queue: QueueViewSchema,
    result: { type: 'object', description: 'What the handler returned; for `hash`: {algorithm, hash}.' },
    error: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
    worker: { type: 'string', description: 'host:pid:slot (or WORKER_NAME:slot) of the worker that ran it' },
    startedAt: timestamp,
    finishedAt: timestamp,
    durationMs: count,
  },
};

export const HealthSchema: JsonSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { const: 'ok' } },
};

const reachability = { type: 'string', enum: ['ok', 'unavailable'] } as const;

export const ReadySchema: JsonSchema = {
  type: 'object',
  required: ['status', 'beanstalkd', 'mongodb'],
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['ready', 'unavailable'] },
    beanstalkd: reachability,
    mongodb: reachability,
  },
};

export const MetricsSchema: JsonSchema = {
  type: 'string',
  description: 'Prometheus text exposition format 0.0.4.',
};

export const OpenApiSchema: JsonSchema = {
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: { openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } },
};

const averageMs = { type: ['number', 'null'], minimum: 0, description: 'null before the first job' } as const;

export const WorkerViewSchema: JsonSchema = {
  type: 'object',
  required: [
    'id',
    'name',
    'host',
    'pid',
    'types',
    'concurrency',
    'state',
    'completed',
    'failed',
    'avgDurationMs',
    'byType',
    'startedAt',
    'lastSeen',
  ],
  additionalProperties: false,
  properties: {
    id: { type: 'string', description: 'this worker process (its name and a suffix unique to its start)' },
    name: { type: 'string' },
    host: { type: 'string' },
    pid: count,
    types: { type: 'array', items: { type: 'string' } },
    concurrency: count,
    state: { const: 'running' },
    completed: count,
    failed: count,
    avgDurationMs: averageMs,
    byType: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type', 'completed', 'failed', 'avgDurationMs'],
        additionalProperties: false,
        properties: { type: { type: 'string' }, completed: count, failed: count, avgDurationMs: averageMs },
      },
    },
    startedAt: timestamp,
    lastSeen: timestamp,
  },
};

export const WorkersSchema: JsonSchema = {
  type: 'object',
  required: ['workers', 'goneAfterMs'],
  additionalProperties: false,
  properties: {
    workers: { type: 'array', items: WorkerViewSchema },
    goneAfterMs: {
      type: 'integer',
      description: 'workers whose last heartbeat is older than this are left out (WORKER_GONE_AFTER_MS)',
    },
  },
};

const typeCountsProperties = {
  queued: count,
  delayed: count,
  running: count,
  buried: count,
  completed: count,
  failed: count,
} as const;
const typeCountsRequired = Object.keys(typeCountsProperties);

const perSecond = { type: 'array', items: count } as const;

export const StatsSchema: JsonSchema = {
  type: 'object',
  required: ['at', 'types', 'totals', 'outcomesCountedAt', 'throughput', 'workers'],
  additionalProperties: false,
  properties: {
    at: timestamp,
    types: {
      type: 'array',
      description:
        'per job type: queued/delayed/running/buried from beanstalkd now, completed/failed counted in MongoDB `results`',
      items: {
        type: 'object',
        required: ['type', ...typeCountsRequired],
        additionalProperties: false,
        properties: { type: { type: 'string' }, ...typeCountsProperties },
      },
    },
    totals: {
      type: 'object',
      required: typeCountsRequired,
      additionalProperties: false,
      properties: typeCountsProperties,
    },
    outcomesCountedAt: {
      ...timestamp,
      description: 'when completed/failed were counted (the count is reused for a few seconds)',
    },
    throughput: {
      type: 'object',
      description:
        "outcomes per second over the last minutes, from the workers' heartbeats (so the last few seconds fill in as heartbeats arrive)",
      required: ['bucketSeconds', 'start', 'completed', 'failed', 'lastMinute'],
      additionalProperties: false,
      properties: {
        bucketSeconds: { const: 1 },
        start: { ...timestamp, description: 'start of the first bucket; bucket i covers start + i seconds' },
        completed: perSecond,
        failed: perSecond,
        lastMinute: {
          type: 'object',
          required: ['completed', 'failed', 'perSecond'],
          additionalProperties: false,
          properties: { completed: count, failed: count, perSecond: { type: 'number', minimum: 0 } },
        },
      },
    },
    workers: {
      type: 'object',
      required: ['live'],
      additionalProperties: false,
      properties: { live: count },
    },
  },
};

/** Most ids one lookup may carry: one query on the store, whatever the number. */
export const MAX_LOOKUP_IDS = 10_000;

export const OutcomesRequestSchema: JsonSchema = {
  type: 'object',
  required: ['ids'],
  additionalProperties: false,
  properties: {
    ids: { type: 'array', minItems: 1, maxItems: MAX_LOOKUP_IDS, items: JobIdSchema },
  },
  examples: [{ ids: ['01a2088b-df96-7646-bd15-7540a8817d53'] }],
};

export const OutcomesSchema: JsonSchema = {
  type: 'object',
  required: ['outcomes', 'unfinished'],
  additionalProperties: false,
  properties: {
    outcomes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'type', 'state', 'worker', 'startedAt', 'finishedAt', 'durationMs'],
        additionalProperties: false,
        properties: {
          id: JobIdSchema,
          type: { type: 'string' },
          state: { type: 'string', enum: ['completed', 'failed', 'cancelled'] },
          worker: { type: 'string' },
          startedAt: timestamp,
          finishedAt: timestamp,
          durationMs: count,
        },
      },
    },
    unfinished: {
      type: 'array',
      items: JobIdSchema,
      description: 'the ids asked about that have no outcome (yet); unknown ids land here too',
    },
  },
};

/** Names under which the document lists these schemas (components.schemas). */
export const NAMED_SCHEMAS: ReadonlyArray<[string, JsonSchema]> = [
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
