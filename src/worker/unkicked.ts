/**
 * Copies put on hold and never kicked (a manager's held put, a flow's released copy): whether
 * one may run, or must be deleted because another copy of its job is the real one.
 */
import type { Envelope } from '../jobs/envelope.js';
import type { Logger } from '../log.js';
import type { ReservedJob } from '../queue/index.js';
import type { JobRecords } from '../store/index.js';
import { quietly } from './quietly.js';
import { type OutcomeWriteDeps, releaseForLater } from './store-outcome.js';

/** What mayRunUnkicked needs of a slot's dependencies. */
export interface UnkickedDeps extends OutcomeWriteDeps {
  store: OutcomeWriteDeps['store'] & Pick<JobRecords, 'findJob' | 'findQueueRef'>;
  /** More than one beanstalkd server: a copy's location names its server, checked against the slot's. */
  severalServers?: boolean;
}

/**
 * Whether a location's server is the one this slot reserves from. With one server every
 * location is its (and a manager may spell its host otherwise than the worker does); with
 * several, the names must match: every process lists BEANSTALK_SERVERS the same way.
 */
function onThisServer(deps: Pick<UnkickedDeps, 'severalServers' | 'consumer'>, server: string): boolean {
  return !deps.severalServers || server === deps.consumer.server;
}

/**
 * Whether a copy put on hold and never kicked may run; if not, it is deleted (or, the store
 * unreadable, released for later). Two such copies:
 * - `held`: its manager died or gave up between the put and the kick (manager/jobs/accept/record-and-queue.ts).
 *   It runs only if its record was stored and names this copy (or no copy: a manager accepting
 *   record-first finished it). The record names another copy when a client's retry (same
 *   Idempotency-Key) put the job again after this copy's manager died: that copy runs.
 * - `released`: a flow's real copy whose flow loop died between the put and the kick
 *   (manager/background/flow-loop.ts). It runs only if the job's queue ref names this copy;
 *   otherwise the loop put another one when the waiter came back, so a flow's job runs from one
 *   real copy only.
 */
export async function mayRunUnkicked(
  deps: UnkickedDeps,
  job: ReservedJob,
  envelope: Envelope,
  log: Logger,
): Promise<boolean> {
  /** True, or why it must not run. */
  const judge = async (): Promise<true | string> => {
    if (envelope.released) {
      const ref = await deps.store.findQueueRef(envelope.id);
      // Ids are per server: the ref names this copy only on this copy's server.
      return (
        (ref !== null && onThisServer(deps, ref.server) && ref.beanstalkId === job.beanstalkId) ||
        'deleting a released flow copy its queue ref does not name'
      );
    }
    const record = await deps.store.findJob(envelope.id);
    if (!record) return 'deleting a held job that was never recorded (its POST failed)';
    return (
      record.queue === undefined ||
      (onThisServer(deps, record.queue.server) && record.queue.beanstalkId === job.beanstalkId) ||
      'deleting a held copy its record does not name (the job was put again)'
    );
  };
  let verdict: true | string;
  try {
    verdict = await judge();
  } catch (error: unknown) {
    deps.noteStore?.(false, error);
    log.warn({ err: error }, 'could not look up whether a copy never kicked may run; releasing it');
    await releaseForLater(deps, job);
    return false;
  }
  if (verdict === true) return true;
  log.warn({ beanstalkId: job.beanstalkId }, verdict);
  await quietly(log, 'delete a copy never kicked', () => deps.consumer.delete(job.beanstalkId));
  return false;
}
