/**
 * A schedule's tick as a string, and what its progress keeps of the latest one: the key names
 * the schedule, its generation and the tick, and is both the tick job's Idempotency-Key and its
 * claim's `_id` (background/scheduler.ts says why that makes one job per tick).
 */
import type { ScheduleDocument, ScheduleProgressDocument } from '../../store/index.js';

/** The Idempotency-Key of a schedule's tick: a space is in no client's key (1-255 visible ASCII). */
export function tickKey(doc: Pick<ScheduleDocument, '_id' | 'gen'>, tick: Date): string {
  return `schedule ${doc._id} ${doc.gen} ${tick.toISOString()}`;
}

/** The schedule and tick a tick's key (its claim's `_id`) names, or null for another string. */
export function parseTickKey(key: string): { name: string; gen: string; tick: Date } | null {
  const [word, name, gen, iso, ...rest] = key.split(' ');
  if (word !== 'schedule' || !name || !gen || !iso || rest.length > 0) return null;
  const tick = new Date(iso);
  return Number.isNaN(tick.getTime()) ? null : { name, gen, tick };
}

/** What a progress keeps of the latest tick enqueued, skipped or refused. */
export function lastOf(
  progress: ScheduleProgressDocument | null,
): Pick<ScheduleProgressDocument, 'lastTick' | 'lastJobId' | 'lastRunAt' | 'lastSkip' | 'lastError'> {
  if (!progress) return {};
  const { lastTick, lastJobId, lastRunAt, lastSkip, lastError } = progress;
  return {
    ...(lastTick ? { lastTick } : {}),
    ...(lastJobId !== undefined ? { lastJobId } : {}),
    ...(lastRunAt ? { lastRunAt } : {}),
    ...(lastSkip ? { lastSkip } : {}),
    ...(lastError ? { lastError } : {}),
  };
}
