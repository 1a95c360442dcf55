/**
 * The bound on the accepts a manager runs at once; the job service's `acceptEach` (a batch's
 * items and a matrix's jobs, most of them in chunks) runs every accept through it.
 */

/**
 * Accepts of batches and matrices in flight at once in one manager, whatever the number of
 * requests: enough for full insert batches, few enough that requests in flight do not hold
 * thousands of jobs in memory at once. Counted per request, two 1,000-job batches in flight
 * beside a drain took the manager's peak RSS to 134-158 MB, eight to 166-175 MB; counted here,
 * 129-135 and 140-150 (docs/performance-journal.md, "The accept slots"). 250 rather than 1,000: what
 * the accepts in flight hold survives the young generation's scavenges, and with 1,000 the
 * collector took a quarter of the manager's batch time; with 250, a fifth, the manager's CPU
 * per batch job fell by about a quarter and its peak RSS by about 25 MB (2026-12-03).
 */
export const ACCEPTS_IN_FLIGHT = 250;

/**
 * Runs calls holding at most `limit` slots at once across all callers (a call holds `weight`
 * of them: a chunk of jobs accepted together holds one per job); the others wait their turn,
 * in order.
 */
export function createSlots(limit: number) {
  let active = 0;
  const waiting: Array<{ weight: number; start: () => void }> = [];
  /** Lets in the calls at the head of the line that fit, in order. */
  const admit = () => {
    for (let next = waiting[0]; next !== undefined && active + next.weight <= limit; next = waiting[0]) {
      waiting.shift();
      active += next.weight;
      next.start();
    }
  };
  return async function inSlot<T>(fn: () => Promise<T>, weight = 1): Promise<T> {
    const held = Math.min(Math.max(1, weight), limit);
    if (waiting.length === 0 && active + held <= limit) active += held;
    else await new Promise<void>((start) => waiting.push({ weight: held, start }));
    try {
      return await fn();
    } finally {
      active -= held;
      admit();
    }
  };
}
