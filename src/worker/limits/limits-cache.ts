/**
 * Which of a worker's job types have limits (docs/limits-design.md), read from MongoDB by `_id`
 * for each type every `refreshMs` in the background, so that a job of a type without limits
 * costs nothing extra and a limited one only a lookup in memory. A type whose limits were never
 * read (MongoDB down since the worker started) is `unknown`: if beanstalkd holds tokens for it
 * its jobs are released for later without running, as jobs whose outcome cannot be stored are
 * (limit-gate.ts). A failed refresh keeps what was read before.
 */
import { limitsOf } from '../../jobs/limit-tokens.js';
import type { TypeLimits } from '../../jobs/type-limits.js';
import type { Logger } from '../../log.js';
import type { Limits } from '../../store/index.js';

/** How long a worker may act on limits after they changed. */
export const LIMITS_REFRESH_MS = 2000;

export type KnownLimits = TypeLimits | null | 'unknown';

export interface LimitsCache {
  /** The type's limits as last read: null for none, 'unknown' before the first read. */
  get(type: string): KnownLimits;
  /** Called after each refresh that changed something. */
  onChange(listener: () => void): void;
  /** Resolves after the first refresh (successful or not). */
  readonly loaded: Promise<void>;
  stop(): void;
}

const same = (a: KnownLimits | undefined, b: KnownLimits) => JSON.stringify(a) === JSON.stringify(b);

export function startLimitsCache(options: {
  store: Pick<Limits, 'findTypeLimits'>;
  types: readonly string[];
  log: Logger;
  refreshMs?: number;
}): LimitsCache {
  const known = new Map<string, KnownLimits>(options.types.map((type) => [type, 'unknown']));
  const listeners: Array<() => void> = [];
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function refresh(): Promise<void> {
    let changed = false;
    let failure: unknown;
    await Promise.all(
      options.types.map(async (type) => {
        try {
          const next = limitsOf(await options.store.findTypeLimits(type));
          if (!same(known.get(type), next)) {
            known.set(type, next);
            changed = true;
            options.log.info({ type, limits: next }, next ? 'type limits in force' : 'type has no limits');
          }
        } catch (error: unknown) {
          failure = error;
        }
      }),
    );
    if (failure !== undefined && !failing) {
      options.log.warn({ err: failure }, 'could not read type limits; keeping what was read before');
    } else if (failure === undefined && failing) options.log.info('type limits readable again');
    failing = failure !== undefined;
    if (changed) for (const listener of listeners) listener();
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void refresh().finally(schedule), options.refreshMs ?? LIMITS_REFRESH_MS);
    timer.unref();
  };
  const loaded = refresh().finally(schedule);

  return {
    // Not `??`: null (no limits) is an answer.
    get: (type) => {
      const found = known.get(type);
      return found === undefined ? 'unknown' : found;
    },
    onChange: (listener) => {
      listeners.push(listener);
    },
    loaded,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
