/**
 * What a scheduler does with a schedule's next tick at a given moment: wait for it, enqueue
 * it, or skip ticks that were missed. A pure function of the schedule's ticks, its next tick,
 * the time and its catch-up policy, so every manager decides alike (docs/api.md, "Schedules").
 *
 * - A tick at most `graceMs` late (a minute, as Quartz's misfire threshold) is on time: it is
 *   enqueued, each such tick once, in order. This covers a scheduler pass that came late, a
 *   manager killed mid-tick whose claim had to run out, a backend that was slow a few seconds.
 * - Older ticks were missed (every manager was down, or could not reach a backend). `skip`
 *   drops them all and goes on from the first tick that is on time (or still to come); `once`
 *   enqueues the latest missed tick, one job for the whole outage, unless a tick that is on
 *   time is due anyway (it stands for the outage then), and then goes on.
 * - A tick older than `horizonMs` is never enqueued, whatever the policy: its Idempotency-Key
 *   may be gone (keys live IDEMPOTENCY_TTL_SECONDS; retention removes finished jobs with
 *   theirs), and enqueueing it again could make a second job for it.
 */
import type { CatchUp, ScheduleDocument, ScheduleProgressDocument } from '../../store/index.js';
import type { TickSeries } from './ticks.js';

/** How late a tick may be and still run as if on time. */
export const ON_TIME_GRACE_MS = 60_000;

export type TickDecision =
  /** Nothing due (or no tick left). */
  | { kind: 'wait' }
  /** Enqueue `tick` (`late`: a missed tick run once to catch up). */
  | { kind: 'run'; tick: Date; late: boolean }
  /** Skip the ticks from `from` up to (not including) `to`: none of them gets a job. */
  | { kind: 'skip'; from: Date; to: Date | null };

export interface TickLimits {
  /** A tick at most this late is on time. */
  graceMs: number;
  /** A tick this old or older is never enqueued. */
  horizonMs: number;
}

/**
 * How late a tick may still be enqueued: the lifetime of the keys that make a tick's job
 * unique (the shorter of IDEMPOTENCY_TTL_SECONDS and, when set, RETENTION_COMPLETED_SECONDS),
 * less a tenth of it (at most five minutes) for clocks that disagree; and the grace within
 * that.
 */
export function tickLimits(idempotencyTtlMs: number, retentionMs: number): TickLimits {
  const keyLifeMs = retentionMs > 0 ? Math.min(idempotencyTtlMs, retentionMs) : idempotencyTtlMs;
  const horizonMs = keyLifeMs - Math.min(keyLifeMs / 10, 300_000);
  return { horizonMs, graceMs: Math.min(ON_TIME_GRACE_MS, horizonMs) };
}

export function decideTick(
  ticks: TickSeries,
  next: Date | null,
  now: Date,
  policy: CatchUp,
  limits: TickLimits,
): TickDecision {
  if (next === null || next.getTime() > now.getTime()) return { kind: 'wait' };
  const onTimeFrom = new Date(now.getTime() - limits.graceMs);
  if (next.getTime() >= onTimeFrom.getTime()) return { kind: 'run', tick: next, late: false };
  // `next` was missed. The first tick on time (due now, or still to come) is where to go on.
  const firstOnTime = ticks.atOrAfter(onTimeFrom);
  const onTimeDue = firstOnTime !== null && firstOnTime.getTime() <= now.getTime();
  if (policy === 'skip' || onTimeDue) return { kind: 'skip', from: next, to: firstOnTime };
  const latest = ticks.atOrBefore(now) ?? next;
  if (now.getTime() - latest.getTime() >= limits.horizonMs)
    return { kind: 'skip', from: next, to: ticks.after(latest) };
  // Skip up to the latest missed tick first: the next decision runs it, whichever manager makes it.
  if (latest.getTime() > next.getTime()) return { kind: 'skip', from: next, to: latest };
  return { kind: 'run', tick: next, late: true };
}

/**
 * A schedule's next tick not yet enqueued nor skipped: its progress says, else (no tick done
 * yet, or the progress of an earlier schedule of that name) the first tick after it was made;
 * never a tick at or before its latest resume (those passed while it was paused).
 */
export function nextTickOf(
  schedule: Pick<ScheduleDocument, 'gen' | 'createdAt' | 'resumedAt'>,
  progress: Pick<ScheduleProgressDocument, 'gen' | 'nextTick'> | null,
  ticks: TickSeries,
): Date | null {
  const next =
    progress && progress.gen === schedule.gen ? progress.nextTick : ticks.after(schedule.createdAt);
  if (next === null || schedule.resumedAt === undefined) return next;
  const afterResume = ticks.after(schedule.resumedAt);
  return afterResume !== null && afterResume.getTime() > next.getTime() ? afterResume : next;
}
