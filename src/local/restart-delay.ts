/**
 * When the local stack starts again a manager or worker that exited on its own (a crash, the
 * stall watchdog's kill, an out-of-memory kill), as Swarm's `restart_policy: any` and a
 * Kubernetes Deployment do: a second after it exits, then twice as long after each exit that
 * follows a short run, so a process that cannot start does not spin.
 */

/** The first wait before a restart. */
export const FIRST_RESTART_MS = 1000;
/** The longest wait between restarts. */
export const MAX_RESTART_MS = 30_000;
/** A process that ran this long before exiting is restarted after the first wait again. */
export const STABLE_RUN_MS = 30_000;

/** Exits that followed short runs, in a row: what the next wait grows with. */
export interface RestartHistory {
  shortRunsInARow: number;
}

/** How long to wait before starting a process again that ran `ranMs` before it exited. */
export function nextRestartDelayMs(history: RestartHistory, ranMs: number): number {
  history.shortRunsInARow = ranMs >= STABLE_RUN_MS ? 0 : history.shortRunsInARow + 1;
  const doublings = Math.max(0, history.shortRunsInARow - 1);
  return Math.min(MAX_RESTART_MS, FIRST_RESTART_MS * 2 ** Math.min(doublings, 16));
}
