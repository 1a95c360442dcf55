/** The handlers of `/schedules`: make, list, read, pause, resume and delete schedules. */
import type { Context } from 'koa';
import type { WebhookPolicy } from '../../jobs/accept/callback.js';
import {
  checkScheduleName,
  parseScheduleBody,
  SCHEDULE_FIELDS_BYTES,
} from '../../schedules/schedule-body.js';
import type { ScheduleService } from '../../schedules/schedule-service.js';
import { readJsonBody } from '../read-json-body.js';
import type { AcceptLimits } from './jobs.js';

export interface ScheduleHandlerDeps {
  schedules: ScheduleService;
  limits: AcceptLimits;
  /** What a `callback_url` option is checked against (absent: webhooks off). */
  webhooks?: WebhookPolicy;
  /** PAYLOAD_TOO_LARGE unless a tick's job fits beanstalkd's max-job-size (JobService.checkQueuedSize). */
  checkQueuedSize: Parameters<typeof parseScheduleBody>[1]['checkQueuedSize'];
}

/** createSchedule, listSchedules, getSchedule, pauseSchedule, resumeSchedule and deleteSchedule, by their route-table names. */
export function scheduleHandlers(deps: ScheduleHandlerDeps) {
  const { schedules, limits } = deps;
  const nameIn = (ctx: Context) => checkScheduleName(ctx.params.name);
  return {
    createSchedule: async (ctx: Context) => {
      // One job's payload and the schedule's own fields; one level deeper than a payload may be
      // (the payload's own depth is checked on its own), prototype keys looked for in the payload.
      const body = await readJsonBody(ctx.req, {
        limitBytes: limits.maxJobSize() + SCHEDULE_FIELDS_BYTES,
        maxDepth: limits.maxJsonDepth + 1,
        timeoutMs: limits.bodyTimeoutMs,
        forbidPrototypeKeys: false,
      });
      const request = parseScheduleBody(body, {
        defaultOptions: limits.defaultOptions,
        allowedTypes: limits.allowedTypes,
        maxJsonDepth: limits.maxJsonDepth,
        forbidPrototypeKeys: limits.forbidPrototypeKeys,
        ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
        checkQueuedSize: deps.checkQueuedSize,
      });
      const view = await schedules.create(request);
      ctx.status = 201;
      ctx.set('Location', `/schedules/${view.name}`);
      ctx.body = view;
    },
    listSchedules: async (ctx: Context) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await schedules.list();
    },
    getSchedule: async (ctx: Context) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await schedules.get(nameIn(ctx));
    },
    pauseSchedule: async (ctx: Context) => {
      ctx.body = await schedules.pause(nameIn(ctx));
    },
    resumeSchedule: async (ctx: Context) => {
      ctx.body = await schedules.resume(nameIn(ctx));
    },
    deleteSchedule: async (ctx: Context) => {
      ctx.body = await schedules.remove(nameIn(ctx));
    },
  };
}
