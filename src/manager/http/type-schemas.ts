/** The answers of the `/types/{type}/…` routes (type-routes.ts): pause, resume, retry-failed, kick. */
import { count, type JsonSchema } from './schemas.js';

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
