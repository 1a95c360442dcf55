import type { Logger } from '../log.js';

/** Runs a best-effort step: a failure is one warning line, never an error for the caller. True when it worked. */
export async function quietly(log: Logger, what: string, action: () => Promise<unknown>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch (error: unknown) {
    log.warn({ err: error }, `could not ${what}`);
    return false;
  }
}
