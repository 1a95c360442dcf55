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
    beanstalkd: {
      ...reachability,
      description: 'ok when at least one beanstalkd server answers (puts go to those that do)',
    },
    mongodb: reachability,
    beanstalkdServers: {
      type: 'object',
      description:
        'with several beanstalkd servers (BEANSTALK_SERVERS): each by host:port, and whether it answered',
      additionalProperties: reachability,
    },
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
const perMinute = { type: 'array', items: count, minItems: 60, maxItems: 60 } as const;

export const StatsSchema: JsonSchema = {
  type: 'object',
  required: ['at', 'types', 'totals', 'outcomesCountedAt', 'throughput', 'lastHour', 'workers', 'managers'],
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
          limits: {
            type: 'object',
            description:
              "the type's rate and concurrency limits (PUT /types/{type}/limits); absent when it has none",
            additionalProperties: false,
            properties: {
              rate_per_second: { type: 'integer', minimum: 1 },
              burst: { type: 'integer', minimum: 1 },
              concurrency: { type: 'integer', minimum: 1 },
              interval_seconds: { type: 'integer', minimum: 1 },
            },
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
        "jobs per second over the last 5 minutes: accepted from the managers' heartbeats (every 2 s), completed and failed from the workers' (WORKER_HEARTBEAT_MS), so the last few seconds fill in as heartbeats arrive",
      required: ['bucketSeconds', 'start', 'accepted', 'completed', 'failed', 'lastMinute'],
      additionalProperties: false,
      properties: {
        bucketSeconds: { const: 1 },
        start: { ...timestamp, description: 'start of the first bucket; bucket i covers start + i seconds' },
        accepted: perSecond,
        completed: perSecond,
        failed: perSecond,
        lastMinute: {
          type: 'object',
          required: ['accepted', 'completed', 'failed', 'perSecond'],
          additionalProperties: false,
          properties: {
            accepted: count,
            completed: count,
            failed: count,
            perSecond: { type: 'number', minimum: 0, description: 'completed and failed per second' },
          },
        },
      },
    },
    lastHour: {
      type: 'object',
      description:
        'jobs per minute over the last hour, from the same heartbeats (a process heard from within the hour counts, stopped or not); the last bucket is the current minute, still filling',
      required: ['bucketSeconds', 'start', 'accepted', 'completed', 'failed'],
      additionalProperties: false,
      properties: {
        bucketSeconds: { const: 60 },
        start: {
          ...timestamp,
          description: 'start of the first bucket; bucket i covers start + 60·i seconds',
        },
        accepted: perMinute,
        completed: perMinute,
        failed: perMinute,
      },
    },
    workers: {
      type: 'object',
      required: ['live'],
      additionalProperties: false,
      properties: { live: count },
    },
    managers: {
      type: 'object',
      description: 'managers whose heartbeat (every 2 s) arrived within WORKER_GONE_AFTER_MS',
      required: ['live'],
      additionalProperties: false,
      properties: { live: count },
    },
  },
};
