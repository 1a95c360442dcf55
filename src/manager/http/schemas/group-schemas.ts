/** The schemas of matrix fan-out and its groups (`POST /jobs/matrix`, `GET /groups/{id}`, `GET /groups`). */
import { count, cursorPageSchema, JobIdSchema, type JsonSchema, timestamp } from './schemas.js';

const axisValue = { type: ['string', 'number', 'boolean'] } as const;

/** `on_complete` on POST /jobs/matrix and a JSON batch: the group's completion job (docs/flows-design.md). */
export const OnCompleteSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    "A job that runs once every job of the group has ended (completed, failed or cancelled), whatever their outcomes; its handler reads the group's results with `context.group.results()`. `type` defaults to `summary` (the built-in: counts by outcome, the failed jobs, an MD5 over every job's result); `payload` to {}. A bad one is 400 INVALID_ON_COMPLETE (or the option's own code) and nothing is stored.",
  properties: {
    payload: { type: ['object', 'array'] },
    type: { type: 'string', default: 'summary' },
    priority: { type: 'integer', minimum: 0 },
    delay: { type: 'integer', minimum: 0 },
    ttr: { type: 'integer', minimum: 1 },
    attempts: { type: 'integer', minimum: 1, maximum: 100 },
    callback_url: { type: 'string' },
  },
};

/** The completion job in the answer: its id and state, or its id and why it was not accepted. */
export const OnCompleteResultSchema: JsonSchema = {
  type: 'object',
  required: ['id'],
  description:
    "the group's completion job: `waiting` until the group ends; an `error` (the group's jobs stay accepted, the answer is 207) when it could not be accepted",
  properties: {
    id: JobIdSchema,
    state: { type: 'string' },
    error: { type: 'object', required: ['code', 'message'] },
  },
};

export const MatrixRequestSchema: JsonSchema = {
  type: 'object',
  required: ['axes'],
  additionalProperties: false,
  properties: {
    template: { type: 'object', description: 'the payload every job starts from' },
    axes: {
      type: 'object',
      additionalProperties: { type: 'array', items: axisValue, minItems: 1, maxItems: 100 },
    },
    exclude: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: { oneOf: [axisValue, { type: 'array', items: axisValue }] },
      },
      description: 'a combination matching every entry of any rule is left out',
    },
    on_complete: OnCompleteSchema,
  },
};

export const MatrixResultSchema: JsonSchema = {
  type: 'object',
  required: ['group', 'total', 'excluded', 'accepted', 'jobs'],
  properties: {
    group: JobIdSchema,
    total: count,
    excluded: count,
    accepted: count,
    onComplete: OnCompleteResultSchema,
    jobs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'combination'],
        properties: {
          index: count,
          id: JobIdSchema,
          combination: { type: 'object' },
          error: { type: 'object' },
        },
      },
    },
  },
};

export const GroupSchema: JsonSchema = {
  type: 'object',
  required: [
    'group',
    'type',
    'total',
    'excluded',
    'finished',
    'done',
    'counts',
    'throughputPerSecond',
    'failures',
  ],
  properties: {
    group: JobIdSchema,
    type: { type: 'string' },
    total: count,
    excluded: count,
    finished: count,
    done: { type: 'boolean' },
    counts: {
      type: 'object',
      additionalProperties: count,
      description:
        'jobs by state; with more than 200 jobs open, those are counted as `unfinished` instead of by live state',
    },
    throughputPerSecond: { type: 'number', minimum: 0 },
    failures: { type: 'array', items: { type: 'object' } },
    onComplete: { ...JobIdSchema, description: "the group's completion job (on_complete), when it has one" },
    results: {
      type: 'array',
      items: { type: 'object' },
      description:
        'once every job finished; a result over 2 KB is left out (resultOmitted: true): GET the job',
    },
  },
};

/** GET /groups: a page of groups in brief, newest first. */
export const GroupListSchema: JsonSchema = cursorPageSchema('groups', {
  type: 'object',
  required: ['id', 'createdAt', 'type', 'jobs', 'finished', 'done', 'counts'],
  additionalProperties: false,
  properties: {
    id: JobIdSchema,
    createdAt: { ...timestamp, description: 'when the group was stored, once its jobs were accepted' },
    type: { type: 'string' },
    jobs: { ...count, description: 'the jobs accepted into the group (GET /groups/{id}: total)' },
    finished: count,
    done: { type: 'boolean' },
    counts: {
      type: 'object',
      additionalProperties: false,
      properties: { completed: count, failed: count, cancelled: count, unfinished: count },
      description:
        "ended jobs by outcome, from the group's marks; the others (queued, delayed, running, buried) as `unfinished`",
    },
  },
});
