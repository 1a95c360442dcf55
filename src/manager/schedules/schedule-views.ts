/** How a schedule is shown over HTTP: what it was made with, and where its ticks stand. */
import type { ScheduleDocument, ScheduleProgressDocument } from '../../store/index.js';
import { payloadValue } from '../jobs/read/views.js';
import { nextTickOf } from './catch-up.js';
import { ticksOf, upcoming } from './ticks.js';

/** Next runs a view lists. */
export const NEXT_RUNS_SHOWN = 3;

export interface ScheduleView {
  name: string;
  cron?: string;
  every_seconds?: number;
  timezone: string;
  type: string;
  /** The tick jobs' options, resolved (as POST /jobs takes them). */
  options: Record<string, string | number>;
  catch_up: 'once' | 'skip';
  paused: boolean;
  createdAt: string;
  /** The next tick to enqueue (null while paused); in the past when it is due or overdue. */
  nextRunAt: string | null;
  /** It and the ticks after it. */
  nextRuns: string[];
  lastRunAt?: string;
  lastTick?: string;
  lastJobId?: string;
  lastSkipped?: { from: string; to: string | null; at: string };
  lastError?: { tick: string; code: string; message: string; at: string };
  /** GET /schedules/{name} and the answers about one schedule; not in the list. */
  payload?: unknown;
}

/** The options of a stored schedule as `options` of a POST /jobs would give them. */
function optionsView(doc: ScheduleDocument): Record<string, string | number> {
  return {
    priority: doc.options.priority,
    delay: doc.options.delay,
    ttr: doc.options.ttr,
    attempts: doc.options.maxAttempts,
    ...(doc.params ?? {}),
    ...(doc.callbackUrl !== undefined ? { callback_url: doc.callbackUrl } : {}),
  };
}

/** A schedule as answered: what it is (`doc`) and where its ticks stand (`progress`, null: none yet). */
export function scheduleView(doc: ScheduleDocument, progress: ScheduleProgressDocument | null): ScheduleView {
  const ticks = ticksOf(doc);
  const runs = doc.paused ? [] : upcoming(ticks, nextTickOf(doc, progress, ticks), NEXT_RUNS_SHOWN);
  const last = progress?.gen === doc.gen ? progress : null;
  return {
    name: doc._id,
    ...(doc.cron !== undefined ? { cron: doc.cron } : {}),
    ...(doc.everySeconds !== undefined ? { every_seconds: doc.everySeconds } : {}),
    timezone: doc.timezone,
    type: doc.type,
    options: optionsView(doc),
    catch_up: doc.catchUp,
    paused: doc.paused,
    createdAt: doc.createdAt.toISOString(),
    nextRunAt: runs[0]?.toISOString() ?? null,
    nextRuns: runs.map((run) => run.toISOString()),
    ...(last?.lastRunAt ? { lastRunAt: last.lastRunAt.toISOString() } : {}),
    ...(last?.lastTick ? { lastTick: last.lastTick.toISOString() } : {}),
    ...(last?.lastJobId !== undefined ? { lastJobId: last.lastJobId } : {}),
    ...(last?.lastSkip
      ? {
          lastSkipped: {
            from: last.lastSkip.from.toISOString(),
            to: last.lastSkip.to?.toISOString() ?? null,
            at: last.lastSkip.at.toISOString(),
          },
        }
      : {}),
    ...(last?.lastError
      ? {
          lastError: {
            tick: last.lastError.tick.toISOString(),
            code: last.lastError.code,
            message: last.lastError.message,
            at: last.lastError.at.toISOString(),
          },
        }
      : {}),
    ...(doc.payload !== undefined ? { payload: payloadValue(doc.payload) } : {}),
  };
}
