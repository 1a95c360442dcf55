/**
 * The built-in `simulate` job, for load tests and retry demos: works for a time drawn around
 * a mean (uniform between half and one and a half times it), then fails at a given rate.
 * Per job: `mean_ms` and `fail_rate`; otherwise the worker's defaults.
 */
import type { Handler } from './types.js';

export interface SimulateDefaults {
  meanMs: number;
  failRate: number;
}

export function simulateHandler(defaults: SimulateDefaults, random: () => number = Math.random): Handler {
  return (_payload, context) => {
    const meanMs = typeof context.params.mean_ms === 'number' ? context.params.mean_ms : defaults.meanMs;
    const failRate =
      typeof context.params.fail_rate === 'number' ? context.params.fail_rate : defaults.failRate;
    const workedMs = Math.round(meanMs * (0.5 + random()));
    const fails = random() < failRate;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        context.signal.removeEventListener('abort', onAbort);
        if (fails) reject(new Error(`simulated failure (fail_rate ${failRate})`));
        else resolve({ workedMs, failRate });
      }, workedMs);
      const onAbort = () => {
        clearTimeout(timer);
        reject(context.signal.reason);
      };
      context.signal.addEventListener('abort', onAbort, { once: true });
    });
  };
}
