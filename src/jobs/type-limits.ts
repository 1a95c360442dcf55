/**
 * A job type's limits (docs/limits-design.md): at most `ratePerSecond` starts a second with a
 * burst of `burst`, and at most `concurrency` runs at once, across every worker. Pure: the
 * checks of `PUT /types/<type>/limits` and the token arithmetic both sides share. The tokens
 * themselves (beanstalkd jobs in two tubes per type) are in limit-tokens.ts.
 */
import { isJsonObject } from '../json-object.js';

/** What is stored for a type (`type_limits`, by `_id`) and what workers read. */
export interface TypeLimits {
  /** Starts per second, sustained. */
  ratePerSecond?: number;
  /** Starts at once after idleness: the rate tokens; a whole multiple of ratePerSecond. */
  burst?: number;
  /** Runs at once: the run tokens. */
  concurrency?: number;
}

/** The bounds PUT checks: every token is a small beanstalkd job. */
export const LIMIT_BOUNDS = Object.freeze({ maxRate: 10_000, maxBurst: 10_000, maxConcurrency: 10_000 });

/** The body of `PUT /types/<type>/limits`, as the API spells it. */
const FIELDS = ['rate_per_second', 'burst', 'concurrency'] as const;

const isWhole = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/**
 * The limits a PUT body asks for, or why it is refused (a message for 400 INVALID_LIMITS).
 * `burst` defaults to the rate and must be a whole multiple of it: a rate token used at a start
 * comes back after burst / rate seconds, and beanstalkd delays are whole seconds.
 */
export function parseLimits(body: unknown): TypeLimits | { error: string } {
  if (!isJsonObject(body)) {
    return { error: 'send a JSON object: {"rate_per_second"?: n, "burst"?: n, "concurrency"?: n}' };
  }
  const record = body;
  const unknown = Object.keys(record).filter((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    return {
      error: `unknown field ${JSON.stringify(unknown[0]?.slice(0, 40))}; known: ${FIELDS.join(', ')}`,
    };
  }
  const { rate_per_second: rate, burst, concurrency } = record;
  if (rate === undefined && concurrency === undefined) {
    return { error: 'give rate_per_second, concurrency or both (DELETE removes the limits)' };
  }
  if (rate !== undefined && !isWhole(rate, 1, LIMIT_BOUNDS.maxRate)) {
    return { error: `rate_per_second must be a whole number from 1 to ${LIMIT_BOUNDS.maxRate}` };
  }
  if (concurrency !== undefined && !isWhole(concurrency, 1, LIMIT_BOUNDS.maxConcurrency)) {
    return { error: `concurrency must be a whole number from 1 to ${LIMIT_BOUNDS.maxConcurrency}` };
  }
  if (burst !== undefined) {
    if (rate === undefined) return { error: 'burst needs rate_per_second' };
    if (!isWhole(burst, 1, LIMIT_BOUNDS.maxBurst)) {
      return { error: `burst must be a whole number from 1 to ${LIMIT_BOUNDS.maxBurst}` };
    }
    if (burst < rate || burst % rate !== 0) {
      return {
        error: `burst must be a whole multiple of rate_per_second (${rate}, ${rate * 2}, …): a token comes back after burst / rate seconds, and beanstalkd counts whole seconds`,
      };
    }
  }
  return {
    ...(rate !== undefined ? { ratePerSecond: rate, burst: burst ?? rate } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
  };
}

/** Seconds a rate token stays delayed after its start: burst / rate, a whole number. */
export function rateIntervalSeconds(limits: TypeLimits): number {
  if (limits.ratePerSecond === undefined) return 0;
  return Math.max(1, Math.round((limits.burst ?? limits.ratePerSecond) / limits.ratePerSecond));
}

/**
 * The most starts any window of `windowSeconds` can hold: each of the B tokens is used at most
 * once per D = B/N seconds, so at most ⌊w/D⌋ + 1 times in a window of w seconds (both ends
 * counted). For w = 1: B·(⌊1/D⌋ + 1) ≤ N + B, because ⌊N/B⌋·B ≤ N.
 */
export function maxStartsInWindow(limits: TypeLimits, windowSeconds = 1): number {
  if (limits.ratePerSecond === undefined) return Number.POSITIVE_INFINITY;
  const burst = limits.burst ?? limits.ratePerSecond;
  return burst * (Math.floor(windowSeconds / rateIntervalSeconds(limits)) + 1);
}

/** How the API shows limits (snake_case, as PUT takes them), with the token interval. */
export interface LimitsAnswer {
  rate_per_second?: number;
  burst?: number;
  concurrency?: number;
  /** burst / rate_per_second: how long a rate token rests after a start. */
  interval_seconds?: number;
}

export function limitsAnswer(limits: TypeLimits): LimitsAnswer {
  return {
    ...(limits.ratePerSecond !== undefined
      ? {
          rate_per_second: limits.ratePerSecond,
          burst: limits.burst ?? limits.ratePerSecond,
          interval_seconds: rateIntervalSeconds(limits),
        }
      : {}),
    ...(limits.concurrency !== undefined ? { concurrency: limits.concurrency } : {}),
  };
}
