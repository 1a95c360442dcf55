/**
 * When a failed delivery is tried again: base × 2^(attempt-1), capped, in whole seconds (what
 * beanstalkd's release delay counts). With the defaults (1 s, capped at 1 h, 36 attempts) the
 * waits are 1, 2, 4 … 2,048 s, then an hour each: the last attempt comes about 24 hours after
 * the first.
 */

export interface RetrySchedule {
  baseMs: number;
  capMs: number;
  /** Attempts before the delivery is buried as given up. */
  maxAttempts: number;
}

/** Seconds to wait after failed attempt number `attempt` (1 = the first). */
export function retryDelaySeconds(
  attempt: number,
  schedule: Pick<RetrySchedule, 'baseMs' | 'capMs'>,
): number {
  const ms = Math.min(schedule.capMs, schedule.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.ceil(ms / 1000);
}

/** Seconds from the first attempt to the last one, if every attempt fails. */
export function secondsUntilGivingUp(schedule: RetrySchedule): number {
  let total = 0;
  for (let attempt = 1; attempt < schedule.maxAttempts; attempt += 1)
    total += retryDelaySeconds(attempt, schedule);
  return total;
}
