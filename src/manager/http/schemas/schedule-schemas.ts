/** The schemas of schedules (`/schedules`, `/schedules/{name}`): what is sent, what is answered. */
import { OPTION_NAMES } from '../../jobs/accept/options.js';
import { JobIdSchema, type JsonSchema, timestamp } from './schemas.js';

export const ScheduleNameSchema: JsonSchema = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9._-]{0,63}$',
  description:
    "A schedule's name: 1-64 lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit.",
};

const optionValue = { type: ['string', 'number'] } as const;

/** The options a tick's job takes: those of POST /jobs, but `type`. */
const optionProperties = Object.fromEntries(
  OPTION_NAMES.filter((name) => name !== 'type').map((name) => [name, optionValue]),
);

export const ScheduleRequestSchema: JsonSchema = {
  type: 'object',
  required: ['name', 'payload'],
  additionalProperties: false,
  properties: {
    name: ScheduleNameSchema,
    cron: {
      type: 'string',
      maxLength: 200,
      description:
        'A cron pattern read in `timezone`: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly. Exactly one of cron and every_seconds.',
    },
    every_seconds: {
      type: 'integer',
      minimum: 1,
      maximum: 31_536_000,
      description:
        'A period: ticks at every whole multiple of it since the Unix epoch (60: every whole minute UTC).',
    },
    timezone: {
      type: 'string',
      description: 'An IANA time zone name for cron (default UTC); not with every_seconds.',
    },
    type: { type: 'string', description: 'The job type (default hash), one of JOB_TYPES.' },
    payload: {
      type: ['object', 'array'],
      description:
        'The job each tick enqueues; its text is stored exactly as sent, as POST /jobs stores a body.',
    },
    options: {
      type: 'object',
      additionalProperties: false,
      properties: optionProperties,
      description: "The job's options, as POST /jobs takes them as query parameters.",
    },
    catch_up: {
      type: 'string',
      enum: ['once', 'skip'],
      description:
        'Ticks more than a minute late were missed (every manager down): once (the default) enqueues the latest missed tick, one job for the outage; skip enqueues none of them.',
    },
  },
};

const problemOfTick = {
  type: 'object',
  required: ['tick', 'code', 'message', 'at'],
  additionalProperties: false,
  properties: { tick: timestamp, code: { type: 'string' }, message: { type: 'string' }, at: timestamp },
} as const;

export const ScheduleSchema: JsonSchema = {
  type: 'object',
  required: [
    'name',
    'timezone',
    'type',
    'options',
    'catch_up',
    'paused',
    'createdAt',
    'nextRunAt',
    'nextRuns',
  ],
  additionalProperties: false,
  properties: {
    name: ScheduleNameSchema,
    cron: { type: 'string' },
    every_seconds: { type: 'integer', minimum: 1 },
    timezone: { type: 'string' },
    type: { type: 'string' },
    options: {
      type: 'object',
      additionalProperties: optionValue,
      description: "the tick jobs' options, resolved with the defaults of the manager that made the schedule",
    },
    catch_up: { type: 'string', enum: ['once', 'skip'] },
    paused: { type: 'boolean' },
    createdAt: timestamp,
    nextRunAt: {
      type: ['string', 'null'],
      format: 'date-time',
      description: 'the next tick to enqueue (in the past while it is due); null while paused',
    },
    nextRuns: {
      type: 'array',
      items: timestamp,
      maxItems: 3,
      description: 'nextRunAt and the ticks after it (empty while paused)',
    },
    lastRunAt: { ...timestamp, description: 'when the latest tick was enqueued' },
    lastTick: timestamp,
    lastJobId: JobIdSchema,
    lastSkipped: {
      type: 'object',
      required: ['from', 'to', 'at'],
      additionalProperties: false,
      description: 'the latest missed ticks skipped: from `from` up to, not including, `to`',
      properties: { from: timestamp, to: { type: ['string', 'null'], format: 'date-time' }, at: timestamp },
    },
    lastError: { ...problemOfTick, description: 'the latest tick whose job was refused for good' },
    payload: { type: ['object', 'array'], description: 'the payload (not in the list)' },
  },
};

export const ScheduleListSchema: JsonSchema = {
  type: 'object',
  required: ['schedules'],
  additionalProperties: false,
  properties: { schedules: { type: 'array', items: ScheduleSchema } },
};

export const ScheduleDeletedSchema: JsonSchema = {
  type: 'object',
  required: ['name', 'deleted'],
  additionalProperties: false,
  properties: { name: ScheduleNameSchema, deleted: { type: 'boolean', const: true } },
};
