/**
 * Schedules over HTTP: made, listed, read, paused, resumed, deleted. Everything a schedule is
 * lives in its `schedules` document; each manager's scheduler (background/scheduler.ts) reads
 * them and enqueues their ticks, so nothing here talks to beanstalkd.
 */
import { randomBytes } from 'node:crypto';
import { AppError, ErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ScheduleDocument, Schedules } from '../../store/index.js';
import type { ScheduleRequest } from './schedule-body.js';
import { type ScheduleView, scheduleView } from './schedule-views.js';

/**
 * Most schedules kept. The collection is listed whole, by every manager's scheduler twice a
 * second and by GET /schedules: fine for configuration of this size, not for history.
 */
export const MAX_SCHEDULES = 1000;

/** A fresh generation: a schedule's ticks' keys carry it. */
function newGeneration(): string {
  return randomBytes(8).toString('hex');
}

export interface ScheduleServiceDeps {
  store: Schedules;
  log: Logger;
}

export function createScheduleService(deps: ScheduleServiceDeps) {
  const { store, log } = deps;

  async function find(name: string): Promise<ScheduleDocument> {
    const doc = await store.findSchedule(name);
    if (!doc) throw new AppError(ErrorCode.SCHEDULE_NOT_FOUND, `no schedule ${name}`);
    return doc;
  }

  /** A schedule and its progress, as answered. */
  async function viewOf(doc: ScheduleDocument): Promise<ScheduleView> {
    return scheduleView(doc, await store.findScheduleProgress(doc._id));
  }

  /** Pauses or resumes; the schedule as answered. Either, asked again, changes nothing. */
  async function setPaused(name: string, paused: boolean): Promise<ScheduleView> {
    // A resume of a schedule that is not paused must not skip a tick that is due.
    const current = await find(name);
    if (current.paused === paused) return viewOf(current);
    const doc = await store.setSchedulePaused(name, paused, new Date());
    if (!doc) throw new AppError(ErrorCode.SCHEDULE_NOT_FOUND, `no schedule ${name}`);
    const view = await viewOf(doc);
    log.info({ schedule: name, nextTick: view.nextRunAt }, paused ? 'schedule paused' : 'schedule resumed');
    return view;
  }

  return {
    async create(request: ScheduleRequest): Promise<ScheduleView> {
      const existing = await store.listSchedules(MAX_SCHEDULES + 1);
      if (existing.some((doc) => doc._id === request.name))
        throw new AppError(ErrorCode.SCHEDULE_EXISTS, `a schedule named ${request.name} exists`);
      if (existing.length >= MAX_SCHEDULES)
        throw new AppError(
          ErrorCode.TOO_MANY_SCHEDULES,
          `at most ${MAX_SCHEDULES} schedules are kept; delete one first`,
        );
      const now = new Date();
      const { job } = request;
      const doc: ScheduleDocument = {
        _id: request.name,
        gen: newGeneration(),
        ...(request.cron !== undefined ? { cron: request.cron } : {}),
        ...(request.everySeconds !== undefined ? { everySeconds: request.everySeconds } : {}),
        timezone: request.timezone,
        type: job.type,
        payload: request.payload.text,
        bytes: request.payload.bytes,
        options: job.options,
        ...(Object.keys(job.params).length > 0 ? { params: { ...job.params } } : {}),
        ...(job.callbackUrl !== undefined ? { callbackUrl: job.callbackUrl } : {}),
        catchUp: request.catchUp,
        paused: false,
        // Its first tick is the first one after this: never one from before it existed.
        createdAt: now,
        updatedAt: now,
      };
      if ((await store.insertSchedule(doc)) === 'duplicate')
        throw new AppError(ErrorCode.SCHEDULE_EXISTS, `a schedule named ${request.name} exists`);
      const view = scheduleView(doc, null);
      log.info({ schedule: doc._id, nextTick: view.nextRunAt }, 'schedule created');
      return view;
    },

    /** Every schedule by name, without payloads. */
    async list(): Promise<{ schedules: ScheduleView[] }> {
      const [docs, progress] = await Promise.all([
        store.listSchedules(MAX_SCHEDULES + 1),
        store.listScheduleProgress(MAX_SCHEDULES + 1),
      ]);
      const progressOf = new Map(progress.map((doc) => [doc._id, doc]));
      docs.sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
      return { schedules: docs.map((doc) => scheduleView(doc, progressOf.get(doc._id) ?? null)) };
    },

    async get(name: string): Promise<ScheduleView> {
      return viewOf(await find(name));
    },

    /** Stops enqueueing ticks; a tick being enqueued right now may still get its job. */
    pause(name: string): Promise<ScheduleView> {
      return setPaused(name, true);
    },

    /** Enqueues ticks again from the first one after now: ticks that passed while paused get no job. */
    resume(name: string): Promise<ScheduleView> {
      return setPaused(name, false);
    },

    /** Removes a schedule; the jobs it enqueued stay. */
    async remove(name: string): Promise<{ name: string; deleted: true }> {
      if (!(await store.deleteSchedule(name)))
        throw new AppError(ErrorCode.SCHEDULE_NOT_FOUND, `no schedule ${name}`);
      log.info({ schedule: name }, 'schedule deleted');
      return { name, deleted: true };
    },
  };
}

export type ScheduleService = ReturnType<typeof createScheduleService>;
