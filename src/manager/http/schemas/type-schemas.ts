/**
 * The answers of the `/types/{type}/…` routes (type-routes.ts): pause, resume, retry-failed,
 * kick, and a type's limits (the request and the answer).
 */
import { LIMIT_BOUNDS } from '../../../jobs/type-limits.js';
import { count, type JsonSchema, timestamp } from './schemas.js';

export const PauseSchema: JsonSchema = {
  type: 'object',
  required: ['type', 'paused', 'seconds'],
  additionalProperties: false,
  properties: { type: { type: 'string' }, paused: { type: 'boolean' }, seconds: count },
};

/** `?limit=` of retry-failed and kick: how many jobs (and buried copies) one call handles. */
export const SteerLimitSchema = { type: 'integer', minimum: 1, maximum: 10_000, default: 1_000 } as const;

const steerCounts = {
  type: { type: 'string' },
  retried: { ...count, description: 'failed jobs retried (each as POST /jobs/{id}/retry does)' },
  skipped: {
    ...count,
    description: 'failed jobs found no longer failed when their retry came (retried or cancelled meanwhile)',
  },
  more: {
    type: 'boolean',
    description: 'the call stopped at its limit (or its store reads): there may be more; call again',
  },
} as const;

export const RetryFailedSchema: JsonSchema = {
  type: 'object',
  required: ['type', 'retried', 'skipped', 'more'],
  additionalProperties: false,
  properties: steerCounts,
};

export const KickSchema: JsonSchema = {
  type: 'object',
  required: ['type', 'retried', 'skipped', 'kicked', 'removed', 'more'],
  additionalProperties: false,
  properties: {
    ...steerCounts,
    kicked: {
      ...count,
      description: 'buried copies made ready (kick-job): bodies not ours, jobs without an outcome',
    },
    removed: {
      ...count,
      description:
        'buried copies deleted because nothing should run them: their job completed or was cancelled, was never recorded, or has another copy',
    },
  },
};

/** The body of `PUT /types/{type}/limits` (parseLimits in jobs/type-limits.ts checks it). */
export const LimitsRequestSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    rate_per_second: {
      type: 'integer',
      minimum: 1,
      maximum: LIMIT_BOUNDS.maxRate,
      description: "at most this many of the type's jobs start per second, across every worker",
    },
    burst: {
      type: 'integer',
      minimum: 1,
      maximum: LIMIT_BOUNDS.maxBurst,
      description:
        'how many may start at once after idleness (default: rate_per_second); a whole multiple of rate_per_second, since a rate token rests burst / rate_per_second whole seconds after each start',
    },
    concurrency: {
      type: 'integer',
      minimum: 1,
      maximum: LIMIT_BOUNDS.maxConcurrency,
      description: "at most this many of the type's jobs run at once, across every worker",
    },
  },
};

const tokenCounts: JsonSchema = {
  type: 'object',
  required: ['ready', 'reserved', 'delayed', 'buried'],
  additionalProperties: false,
  properties: {
    ready: { ...count, description: 'free now' },
    reserved: { ...count, description: 'held by workers: for run tokens, the jobs running now' },
    delayed: { ...count, description: 'rate tokens resting after a start' },
    buried: count,
  },
};

/** A type's limits as GET, PUT and DELETE answer them. */
export const LimitsSchema: JsonSchema = {
  type: 'object',
  required: ['type', 'limits', 'tokens'],
  additionalProperties: false,
  properties: {
    type: { type: 'string' },
    limits: {
      description: 'null: the type has no limits',
      oneOf: [
        { type: 'null' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            rate_per_second: { type: 'integer', minimum: 1 },
            burst: { type: 'integer', minimum: 1 },
            concurrency: { type: 'integer', minimum: 1 },
            interval_seconds: {
              type: 'integer',
              minimum: 1,
              description: 'burst / rate_per_second: how long a rate token rests after a start',
            },
          },
        },
      ],
    },
    updated_at: { ...timestamp, description: 'when the limits were last set' },
    tokens: {
      type: 'object',
      description:
        "the type's tokens in beanstalkd now: run tokens (concurrency of them) and rate tokens (burst of them); after a change the surplus held by workers is removed once they give it back",
      required: ['run', 'rate'],
      additionalProperties: false,
      properties: { run: tokenCounts, rate: tokenCounts },
    },
  },
};
