/** Numbers, times and durations written for people, in the browser's own language. */

const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'long' });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/** 12,345 (or 12.345, 12 345… as the reader's language writes it). */
export function formatNumber(value: number): string {
  return numbers.format(value);
}

const UNITS: ReadonlyArray<[Intl.RelativeTimeFormatUnit, number]> = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
];

/** "3 minutes ago", "in 10 seconds", "now": the largest unit that fits. */
export function formatRelative(iso: string, nowMs: number = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const delta = then - nowMs;
  for (const [unit, ms] of UNITS) {
    if (Math.abs(delta) >= ms || unit === 'second') return relative.format(Math.round(delta / ms), unit);
  }
  return relative.format(0, 'second');
}

/** The date and time in the reader's own zone and language. */
export function formatAbsolute(iso: string): string {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? iso : absolute.format(then);
}

/** "14:05": a time of day, for chart labels. */
export function formatClock(ms: number): string {
  return clock.format(ms);
}

/** 850 ms, 1.2 s, 3 min 4 s, 2 h 5 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${formatNumber(Math.round(ms))} ms`;
  if (ms < 60_000) return `${formatNumber(Math.round(ms / 100) / 10)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${formatNumber(Math.floor(seconds / 3600))} h ${Math.floor((seconds % 3600) / 60)} min`;
}
