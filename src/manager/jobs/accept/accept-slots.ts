/**
 * The bound on the accepts a manager runs at once; the job service's `settleEach` (accept.ts)
 * runs every batch's and matrix's accepts through it.
 */

/**
 * Accepts of batches and matrices in flight at once in one manager, whatever the number of
 * requests: enough for full insert batches, few enough that requests in flight do not hold
 * thousands of jobs in memory at once. Counted per request, two 1,000-job batches in flight
 * beside a drain took the manager's peak RSS to 134-158 MB, eight to 166-175 MB; counted here,
 * 129-135 and 140-150 (docs/performance.md, "The accept slots"). 250 rather than 1,000: what
 * the accepts in flight hold survives the young generation's scavenges, and with 1,000 the
 * collector took a quarter of the manager's batch time; with 250, a fifth, the manager's CPU
 * per batch job fell by about a quarter and its peak RSS by about 25 MB (2026-12-03).
 */
export const ACCEPTS_IN_FLIGHT = 250;

/** Runs at most `limit` calls at once across all callers; the others wait their turn, in order. */
export function createSlots(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async function inSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (active < limit) active += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // The slot passes to the next in line, or is given back.
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}
