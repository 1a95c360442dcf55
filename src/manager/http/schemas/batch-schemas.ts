/** The schemas of `POST /jobs/batch`: its items, or its items with a group completion job, and its answer. */
import { OnCompleteResultSchema, OnCompleteSchema } from './group-schemas.js';
import { count, JobIdSchema, type JsonSchema, timestamp } from './schemas.js';

const BatchItemsSchema: JsonSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['payload'],
    properties: {
      payload: { type: ['object', 'array'] },
      type: { type: 'string' },
      priority: { type: 'integer', minimum: 0 },
      delay: { type: 'integer', minimum: 0 },
      ttr: { type: 'integer', minimum: 1 },
      attempts: { type: 'integer', minimum: 1, maximum: 100 },
      idempotencyKey: { type: 'string', minLength: 1, maxLength: 255 },
      depends_on: { type: 'string', description: '1-100 comma-separated job ids this item waits for' },
      on_parent_failure: { type: 'string', enum: ['fail', 'cancel', 'run'] },
    },
  },
};

export const BatchRequestSchema: JsonSchema = {
  description:
    'application/json: an array of items, each `payload` (object or array) plus any option (type, priority, delay, ttr, attempts, algorithm, encoding, mean_ms, fail_rate, depends_on, on_parent_failure) and an idempotencyKey; or `{"jobs": [those items], "on_complete": {…}}`, which makes the batch a group (GET /groups/{id}, each item\'s combination `{"item": <index>}`) with a completion job, its items then without idempotencyKey. application/x-ndjson: one payload per line, options from the query.',
  oneOf: [
    BatchItemsSchema,
    {
      type: 'object',
      required: ['jobs'],
      additionalProperties: false,
      properties: { jobs: BatchItemsSchema, on_complete: OnCompleteSchema },
    },
  ],
};

export const BatchResultSchema: JsonSchema = {
  type: 'object',
  required: ['accepted', 'failed', 'jobs'],
  properties: {
    accepted: count,
    failed: count,
    group: { ...JobIdSchema, description: 'a batch with on_complete: its group' },
    onComplete: OnCompleteResultSchema,
    jobs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index'],
        properties: {
          index: count,
          id: { type: 'string' },
          state: { type: 'string' },
          type: { type: 'string' },
          createdAt: timestamp,
          replayed: { type: 'boolean' },
          error: { type: 'object', required: ['code', 'message'] },
        },
      },
    },
  },
};
