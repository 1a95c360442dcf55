/**
 * JSON Schema (2020-12, as OpenAPI 3.1 uses it) for the jobs part of the HTTP API (the
 * observing endpoints' are in ops-schemas.ts). The route table (routes.ts) points at these objects, the OpenAPI document is built
 * from them, and the request checks read their limits from them: one description, no drift.
 * The tests validate real answers against these same objects.
 */
import { ErrorCode } from '../../../errors.js';
import { JOB_TYPE } from '../../../handlers/index.js';
import { JOB_STATES } from '../../jobs/read/views.js';

/** A JSON Schema object; kept loose on purpose (it is data for the document and validators). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** What parseJobId accepts (any case); a unit test checks the two agree. */
export const JOB_ID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$';

/** Building blocks shared with ops-schemas.ts. */
export const timestamp = { type: 'string', format: 'date-time' } as const;
export const count = { type: 'integer', minimum: 0 } as const;

export const JobIdSchema: JsonSchema = {
  type: 'string',
  pattern: JOB_ID_PATTERN,
  description: 'A job id: a UUIDv7 minted by the manager (time-sortable); any letter case is accepted.',
  examples: ['01a2088b-df96-7646-bd15-7540a8817d53'],
};

export const JobPayloadSchema: JsonSchema = {
  type: ['object', 'array'],
  description:
    "The job: any JSON object or array, sent as application/json (UTF-8), at most MAX_JSON_DEPTH levels deep and small enough to fit beanstalkd's max-job-size once queued. The text is stored exactly as received; the `hash` result is, by default, the MD5 of that text's JSON string encoding (JSON.stringify of the text, as the original system hashed it), or with ?encoding=raw of the bytes as received.",
  examples: [{ example: 'data' }],
};

export const JobStateSchema: JsonSchema = {
  type: 'string',
  description: '`waiting`: a job with depends_on whose parents have not all ended (docs/flows-design.md)',
  enum: [...JOB_STATES],
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
    state: { type: 'string', enum: [...JOB_STATES] },
    type: { type: 'string' },
    createdAt: timestamp,
  },
};

/** The answer to a cancel or a retry. */
export const JobStateChangeSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'state'],
  additionalProperties: false,
  properties: { id: { type: 'string' }, state: { type: 'string', enum: ['waiting', 'queued', 'cancelled'] } },
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

const WebhookViewSchema = {
  type: 'object',
  description:
    "Jobs with a callback URL (`callback_url` or the type's WEBHOOK_URLS default): where the job's end is POSTed, and how that went. Before the job ends: url, attempts 0, delivered false.",
  required: ['url', 'attempts', 'delivered'],
  properties: {
    url: { type: 'string' },
    deliveryId: {
      type: 'string',
      description: "the X-DW-Delivery of this end's delivery: `<job id>.<state>.<finishedAt in ms>`",
    },
    attempts: count,
    lastStatus: {
      type: ['integer', 'string'],
      description:
        "the last attempt's HTTP status, or why it had none: invalid_url, private_address, dns, refused, unreachable, connect_timeout, timeout, reset, tls, error",
    },
    lastAttemptAt: timestamp,
    delivered: { type: 'boolean', description: 'a 2xx was answered' },
    gaveUp: {
      type: 'boolean',
      description: 'WEBHOOK_MAX_ATTEMPTS spent without a 2xx: the delivery is buried in beanstalkd',
    },
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
    maxAttempts: count,
    queue: QueueViewSchema,
    errors: {
      type: 'array',
      description: 'each failed run: attempt, worker, error message, time',
      items: {
        type: 'object',
        required: ['attempt', 'worker', 'error', 'at'],
        properties: { attempt: count, worker: { type: 'string' }, error: { type: 'string' }, at: timestamp },
      },
    },
    result: {
      type: 'object',
      description: 'What the handler returned; for `hash`: {algorithm, encoding, hash}.',
    },
    error: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
    worker: { type: 'string', description: 'host:pid:slot (or WORKER_NAME:slot) of the worker that ran it' },
    startedAt: timestamp,
    finishedAt: timestamp,
    durationMs: count,
    webhook: WebhookViewSchema,
    payload: {
      type: ['object', 'array'],
      description:
        'The payload as sent, parsed from the exact text stored at accept (in every state; left out with ?payload=false, or once retention removed the job record). JSON.parse is lossy where JSON is ambiguous: a repeated key keeps its last value, 1e400 shows as null; the stored text, and so the hash, keep the bytes as sent.',
    },
    schedule: {
      type: 'object',
      description:
        'A job a schedule enqueued (POST /schedules): the schedule, and the tick it was enqueued for.',
      required: ['name', 'tick'],
      additionalProperties: false,
      properties: { name: { type: 'string' }, tick: timestamp },
    },
    dependsOn: {
      type: 'array',
      description:
        'A job posted with depends_on: its parents, in the order given, with their states when read (docs/flows-design.md).',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['id', 'state'],
        additionalProperties: false,
        properties: { id: JobIdSchema, state: JobStateSchema },
      },
    },
    onCompleteOf: {
      ...JobIdSchema,
      description:
        "A group's completion job (on_complete): the group whose end it runs after; `waiting` until every job of the group has ended.",
    },
    group: {
      ...JobIdSchema,
      description: "A matrix's job (POST /jobs/matrix): its group, as GET /groups/{id} shows it.",
    },
    onParentFailure: {
      type: 'string',
      description:
        'With dependsOn: what a parent that failed or was cancelled does to this job (fail: a failed parent fails it and a cancelled one cancels it; cancel: either cancels it; run: it runs once every parent ended)',
      enum: ['fail', 'cancel', 'run'],
    },
    progress: {
      type: 'object',
      description:
        'While the job runs: what its handler last reported with `context.progress(percent, data?)` in this run (stored at most once a second per job).',
      required: ['percent', 'at'],
      properties: {
        percent: { type: 'number', minimum: 0, maximum: 100 },
        data: { description: 'what the handler passed along (JSON, at most 1 KB)' },
        at: timestamp,
      },
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

export const JobTypeSchema: JsonSchema = {
  type: 'string',
  pattern: JOB_TYPE.source,
  description: 'A job type (also its beanstalkd tube, after QUEUE_TUBE_PREFIX).',
};

/**
 * A page of a list walked with a cursor (GET /jobs through the job log, GET /groups through the
 * group index): `{<name>: [items], nextCursor}`, where nextCursor is null at the end.
 */
export function cursorPageSchema(name: string, item: JsonSchema): JsonSchema {
  return {
    type: 'object',
    required: [name, 'nextCursor'],
    additionalProperties: false,
    properties: {
      [name]: { type: 'array', items: item },
      nextCursor: {
        type: ['string', 'null'],
        description: 'pass as ?cursor= for the next page; null at the end',
      },
    },
  };
}

export const JobListSchema: JsonSchema = cursorPageSchema('jobs', {
  type: 'object',
  required: ['id', 'type', 'state', 'createdAt'],
  additionalProperties: false,
  properties: {
    id: JobIdSchema,
    type: { type: 'string' },
    state: JobStateSchema,
    createdAt: timestamp,
    group: JobIdSchema,
    finishedAt: timestamp,
  },
});
