/** JSON Schema for the observing endpoints' answers: health, metrics, workers, stats, the document. */
import { count, type JsonSchema, timestamp } from './schemas.js';

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
  cancelled: count,
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
        'per job type: queued/delayed/running/buried from beanstalkd now; completed/failed/cancelled: outcomes stored so far, from the outcome tallies (a retried job counts each outcome it had); pausedSeconds: what is left of a pause',
      items: {
        type: 'object',
        required: ['type', ...typeCountsRequired, 'pausedSeconds'],
        additionalProperties: false,
        properties: {
          type: { type: 'string' },
          ...typeCountsProperties,
          pausedSeconds: {
            ...count,
            description:
              "seconds left of the type's pause (POST /types/{type}/pause, beanstalkd's pause-time-left); 0 when not paused",
          },
        },
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
      description:
        'when completed/failed/cancelled were read: they include every tally committed by then (each within a fraction of a second of its outcome; the last outcomes of a killed process once it is retired, within about 10 minutes)',
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
