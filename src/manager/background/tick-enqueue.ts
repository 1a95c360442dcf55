/**
 * A schedule tick's job accepted through the ordinary accept path (scheduler.ts), under the
 * tick's Idempotency-Key, so that accepting it again yields the same job.
 */
import type { Logger } from '../../log.js';
import type { ScheduleDocument } from '../../store/index.js';
import { toAppError } from '../error-answers.js';
import type { JobService } from '../jobs/accept/accept.js';
import { tickKey } from '../schedules/tick-keys.js';

export interface TickEnqueueDeps {
  jobs: Pick<JobService, 'accept'>;
  log: Logger;
  /** Told about each newly accepted tick job (GET /stats, metrics). */
  onAccepted?: (type: string) => void;
  /** Schedules whose tick failed for a transient reason: logged once until one succeeds. */
  failing: Set<string>;
}

/** What became of a tick's job: its id, a refusal for good, or `later` (a backend failed). */
export type TickEnqueued = { jobId: string } | { refused: { code: string; message: string } } | 'later';

/** Accepts `tick`'s job of schedule `doc` (`late`: past its time, for the log). */
export async function enqueueTick(
  deps: TickEnqueueDeps,
  doc: ScheduleDocument,
  tick: Date,
  late: boolean,
): Promise<TickEnqueued> {
  const { log, failing } = deps;
  const name = doc._id;
  try {
    const accepted = await deps.jobs.accept(
      {
        type: doc.type,
        options: doc.options,
        params: doc.params ?? {},
        ...(doc.callbackUrl !== undefined ? { callbackUrl: doc.callbackUrl } : {}),
        schedule: { name, tick: tick.toISOString() },
      },
      { text: doc.payload, bytes: doc.bytes },
      tickKey(doc, tick),
    );
    if (!accepted.replayed) deps.onAccepted?.(doc.type);
    if (failing.delete(name)) log.info({ schedule: name }, 'schedule enqueues again');
    log.debug(
      { schedule: name, tick: tick.toISOString(), jobId: accepted.id, replayed: accepted.replayed, late },
      'tick enqueued',
    );
    return { jobId: accepted.id };
  } catch (error: unknown) {
    const answer = toAppError(error);
    if (answer.status >= 500) {
      // A backend is down or slow: the tick stays due (and claimed by us) for the next pass.
      if (!failing.has(name)) log.warn({ schedule: name, err: error }, 'tick not enqueued; will retry');
      failing.add(name);
      return 'later';
    }
    // The job itself is refused (beanstalkd's max-job-size lowered, webhooks turned off):
    // retrying would not help, and the schedule must not stall on it.
    log.error(
      { schedule: name, tick: tick.toISOString(), code: answer.code, err: error },
      'tick refused; going on to the next',
    );
    return { refused: { code: answer.code, message: answer.message } };
  }
}
