/**
 * When a schedule ticks: a cron pattern read in a time zone (computed by croner, which follows
 * Vixie cron's rules through daylight-saving changes), or a period in seconds whose ticks are
 * the whole multiples of it since the Unix epoch (so `every_seconds: 60` ticks at every whole
 * minute UTC, `3600` at every whole hour, whichever manager computes them). Every manager
 * computes the same ticks from the same schedule: a tick is a point in time, not an event.
 */
import { Cron } from 'croner';

/** The ticks of one schedule. Each answer is null only when the pattern has no such tick. */
export interface TickSeries {
  /** The first tick strictly after `time`. */
  after(time: Date): Date | null;
  /** The first tick at or after `time`. */
  atOrAfter(time: Date): Date | null;
  /** The latest tick at or before `time`. */
  atOrBefore(time: Date): Date | null;
}

/** Longest cron pattern taken (croner's own patterns are far shorter). */
export const MAX_CRON_LENGTH = 200;
/** Longest period: a year. */
export const MAX_EVERY_SECONDS = 31_536_000;
export const DEFAULT_TIMEZONE = 'UTC';

/**
 * A cron pattern of 5 fields (minute hour day-of-month month day-of-week), or 6 with the
 * seconds first, or one of croner's nicknames (`@hourly`, `@daily`, `@weekly`, `@monthly`,
 * `@yearly`/`@annually`, `@midnight`). Not croner's 7th (year) field, nor a date: a schedule
 * recurs for ever.
 */
const CRON_SHAPE = /^(@[a-z]+|\S+(\s+\S+){4,5})$/;

/** The canonical IANA name of a time zone (`america/new_york` → `America/New_York`), or null if unknown. */
export function canonicalTimezone(name: string): string | null {
  if (name.length === 0 || name.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(name)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/**
 * The ticks of a cron pattern in `timezone` (assumed canonical). Throws a RangeError naming
 * what is wrong with the pattern (croner's own message), or saying it never ticks.
 */
export function cronTicks(pattern: string, timezone: string, now = new Date()): TickSeries {
  const trimmed = pattern.trim();
  if (trimmed.length > MAX_CRON_LENGTH || !CRON_SHAPE.test(trimmed))
    throw new RangeError(
      `cron must be 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or a nickname such as @daily; at most ${MAX_CRON_LENGTH} characters`,
    );
  let cron: Cron;
  try {
    cron = new Cron(trimmed, { mode: '5-or-6-parts', timezone });
  } catch (error: unknown) {
    throw new RangeError(error instanceof Error ? error.message : String(error));
  }
  // A pattern such as `0 0 30 2 *` parses but never comes.
  if (cron.nextRun(now) === null) throw new RangeError('cron never matches a date');
  return {
    after: (time) => cron.nextRun(time),
    atOrAfter: (time) => cron.nextRun(new Date(time.getTime() - 1)),
    atOrBefore: (time) => cron.previousRuns(1, new Date(time.getTime() + 1))[0] ?? null,
  };
}

/** The ticks every `seconds`: the whole multiples of the period since the epoch. */
export function periodTicks(seconds: number): TickSeries {
  const period = seconds * 1000;
  return {
    after: (time) => new Date((Math.floor(time.getTime() / period) + 1) * period),
    atOrAfter: (time) => new Date(Math.ceil(time.getTime() / period) * period),
    atOrBefore: (time) => new Date(Math.floor(time.getTime() / period) * period),
  };
}

/** The ticks of a stored schedule (its pattern was checked when it was made). */
export function ticksOf(spec: { cron?: string; everySeconds?: number; timezone: string }): TickSeries {
  if (spec.everySeconds !== undefined) return periodTicks(spec.everySeconds);
  return cronTicks(spec.cron ?? '', spec.timezone);
}

/** `count` ticks from `first` on (`first` included), fewer when the pattern runs out. */
export function upcoming(ticks: TickSeries, first: Date | null, count: number): Date[] {
  const out: Date[] = [];
  for (let tick = first; tick !== null && out.length < count; tick = ticks.after(tick)) out.push(tick);
  return out;
}
