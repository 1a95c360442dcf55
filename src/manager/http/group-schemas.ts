/** The schemas of matrix fan-out and its groups (`POST /jobs/matrix`, `GET /groups/{id}`, `GET /groups`). */
import { count, cursorPageSchema, JobIdSchema, type JsonSchema, timestamp } from './schemas.js';

const axisValue = { type: ['string', 'number', 'boolean'] } as const;

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
