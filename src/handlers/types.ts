import type { GroupResults } from '../jobs/group-results.js';
import type { Logger } from '../log.js';

/** What a handler gets besides the payload. */
export interface HandlerContext {
  jobId: string;
  type: string;
  /** 1 for the first delivery, more when beanstalkd handed the job out again. */
  attempt: number;
  /** The payload exactly as the client sent it (UTF-8 JSON text). */
  rawPayload: string;
  /** Parameters chosen for this job (query options such as `algorithm`); empty when none. */
  params: Readonly<Record<string, string | number>>;
  log: Logger;
  /** Aborted when the worker gives up on the job (shutdown). */
  signal: AbortSignal;
  /**
   * Reports how far the job is: `percent` 0–100, `data` optional JSON of at most 1 KB. Shown
   * in GET /jobs/<id> and the event stream; stored at most once a second (the latest wins).
   * Throws RangeError on a bad value.
   */
  progress(percent: number, data?: unknown): void;
  /**
   * A group's completion job only (`on_complete`): the group it runs after, and `results()`,
   * each member's outcome and result (read from the store when called: a 10,000-job group's
   * results do not fit in a payload).
   */
  group?: { id: string; results(): Promise<GroupResults> };
}

/** A job type's code: the payload parsed from JSON, and what to store as the result. */
export type Handler = (payload: unknown, context: HandlerContext) => Promise<Record<string, unknown>>;

export type HandlerRegistry = ReadonlyMap<string, Handler>;
