/**
 * A worker's log lines for beanstalkd and MongoDB going away and coming back: one line when a
 * backend's state changes, not one per failed pass of each of its slots.
 */
import type { Logger } from '../log.js';

export interface BackendNotes {
  /** beanstalkd answered (down false) or failed (down true) a slot's reserve. */
  queue(down: boolean, error?: unknown): void;
  /** MongoDB took (ok true) or refused (ok false) a write or read of a job. */
  store(ok: boolean, error?: unknown): void;
}

export function createBackendNotes(log: Logger): BackendNotes {
  let queueDown = false;
  let storeDown = false;
  return {
    queue(down, error) {
      if (down === queueDown) return;
      queueDown = down;
      if (down) log.warn({ err: error }, 'beanstalkd unavailable; retrying with backoff');
      else log.info('beanstalkd reachable again');
    },
    store(ok, error) {
      if (ok !== storeDown) return;
      storeDown = !ok;
      if (storeDown) log.warn({ err: error }, 'MongoDB unavailable; outcomes wait in beanstalkd');
      else log.info('MongoDB reachable again');
    },
  };
}
