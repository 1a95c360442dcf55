/** The `/schedules` part of the route table (routes.ts places it): jobs enqueued on a schedule. */
import { ErrorCode } from '../../../errors.js';
import {
  ScheduleDeletedSchema,
  ScheduleListSchema,
  ScheduleNameSchema,
  ScheduleRequestSchema,
  ScheduleSchema,
} from '../schemas/schedule-schemas.js';
import type { RouteSpec } from './route-spec.js';

const BODY_ERRORS = [
  ErrorCode.INVALID_JSON,
  ErrorCode.INVALID_UTF8,
  ErrorCode.JSON_TOO_DEEP,
  ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  ErrorCode.PAYLOAD_TOO_LARGE,
  ErrorCode.REQUEST_TIMEOUT,
] as const;

const ONE = { name: ScheduleNameSchema };
const ONE_ERRORS = [ErrorCode.INVALID_SCHEDULE, ErrorCode.SCHEDULE_NOT_FOUND, ErrorCode.STORE_UNAVAILABLE];

export const SCHEDULE_ROUTES: readonly RouteSpec[] = [
  {
    method: 'POST',
    path: '/schedules',
    operationId: 'createSchedule',
    handler: 'createSchedule',
    tag: 'schedules',
    summary: 'Make a schedule: one job of the given type and payload at every tick',
    description:
      "Every manager looks for due ticks (SCHEDULER_INTERVAL_MS) and enqueues a due tick's job through the ordinary accept path under an Idempotency-Key made of the schedule and the tick, so each tick gets exactly one job however many managers run and whichever of them dies. A tick up to a minute late is enqueued as usual; older ones were missed, and catch_up says what happens to them: once (the default) enqueues the latest missed tick, skip none. A tick older than IDEMPOTENCY_TTL_SECONDS (or RETENTION_COMPLETED_SECONDS, when shorter) is never enqueued. The first tick is the first one after the schedule is made. Every bad field is a 400 and stores nothing: INVALID_SCHEDULE for the schedule's own fields (name, cron, every_seconds, timezone, catch_up, a field unknown or given twice), and the codes of POST /jobs for the job (type, options, payload). At most 1,000 schedules (409 TOO_MANY_SCHEDULES).",
    requestBody: {
      description: 'the schedule',
      schema: ScheduleRequestSchema,
      example: {
        name: 'nightly-report',
        cron: '0 3 * * *',
        timezone: 'Europe/Berlin',
        type: 'hash',
        payload: { report: 'nightly' },
        options: { priority: 10 },
      },
    },
    responses: {
      201: {
        description: 'made',
        schema: ScheduleSchema,
        headers: { Location: { description: '/schedules/{name}', schema: { type: 'string' } } },
      },
    },
    errors: [
      ...BODY_ERRORS,
      ErrorCode.INVALID_SCHEDULE,
      ErrorCode.INVALID_JOB,
      ErrorCode.FORBIDDEN_KEY,
      ErrorCode.INVALID_OPTION,
      ErrorCode.UNKNOWN_JOB_TYPE,
      ErrorCode.INVALID_CALLBACK_URL,
      ErrorCode.WEBHOOKS_DISABLED,
      ErrorCode.SCHEDULE_EXISTS,
      ErrorCode.TOO_MANY_SCHEDULES,
      ErrorCode.STORE_UNAVAILABLE,
    ],
  },
  {
    method: 'GET',
    path: '/schedules',
    operationId: 'listSchedules',
    handler: 'listSchedules',
    tag: 'schedules',
    summary: 'Every schedule, by name, with its next run times (payloads left out)',
    responses: { 200: { description: 'the schedules', schema: ScheduleListSchema } },
    errors: [ErrorCode.STORE_UNAVAILABLE],
  },
  {
    method: 'GET',
    path: '/schedules/{name}',
    operationId: 'getSchedule',
    handler: 'getSchedule',
    tag: 'schedules',
    summary: 'One schedule, with its payload and next run times',
    pathParams: ONE,
    responses: { 200: { description: 'the schedule', schema: ScheduleSchema } },
    errors: ONE_ERRORS,
  },
  {
    method: 'POST',
    path: '/schedules/{name}/pause',
    operationId: 'pauseSchedule',
    handler: 'pauseSchedule',
    tag: 'schedules',
    summary: 'Stop enqueueing ticks (a tick being enqueued at that moment may still get its job)',
    pathParams: ONE,
    responses: { 200: { description: 'paused', schema: ScheduleSchema } },
    errors: ONE_ERRORS,
  },
  {
    method: 'POST',
    path: '/schedules/{name}/resume',
    operationId: 'resumeSchedule',
    handler: 'resumeSchedule',
    tag: 'schedules',
    summary: 'Enqueue ticks again, from the first one after now: ticks that passed while paused are skipped',
    pathParams: ONE,
    responses: { 200: { description: 'resumed', schema: ScheduleSchema } },
    errors: ONE_ERRORS,
  },
  {
    method: 'DELETE',
    path: '/schedules/{name}',
    operationId: 'deleteSchedule',
    handler: 'deleteSchedule',
    tag: 'schedules',
    summary: 'Delete a schedule; the jobs it enqueued stay',
    pathParams: ONE,
    responses: { 200: { description: 'deleted', schema: ScheduleDeletedSchema } },
    errors: ONE_ERRORS,
  },
];
