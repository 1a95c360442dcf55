/**
 * Finding a job's copy in beanstalkd. A job's record carries where it was first put; a
 * `queue_refs` document, when there is one, says where it was put since (or where a job
 * recorded before its put went), and wins.
 */
import { decodeEnvelope, type Envelope } from '../../../jobs/envelope.js';
import type { QueueClient, QueuedJob, QueueSet } from '../../../queue/index.js';
import type { JobDocument, QueueLocation, QueueRefDocument } from '../../../store/index.js';
import { type JobState, STATE_OF_QUEUE } from './views.js';

/** Where the job's newest copy was put, or null if nothing says. */
export function queueLocation(
  job: JobDocument | null | undefined,
  ref: QueueRefDocument | null | undefined,
): QueueLocation | null {
  return ref ?? job?.queue ?? null;
}

/** A job's copy in beanstalkd now, with its body decoded, and the server that holds it. */
export type LiveCopy = QueuedJob & { envelope: Envelope; queue: QueueClient };

/**
 * The job's live copy, or null when beanstalkd no longer has it, it was put under a server
 * that is not one of ours, or its beanstalkd id now names another job (ids repeat after
 * restarts). Throws when the server that holds it does not answer.
 */
export async function findLiveCopy(
  queues: QueueSet,
  id: string,
  location: QueueLocation | null,
): Promise<LiveCopy | null> {
  const queue = location ? queues.at(location.server) : null;
  if (!location || !queue) return null;
  const live = await queue.inspectJob(location.beanstalkId);
  const envelope = live && decodeEnvelope(live.body);
  return live && envelope?.id === id ? { ...live, envelope, queue } : null;
}

/** The state a live copy shows: `waiting` for a flow's waiter (whatever beanstalkd does with it), else beanstalkd's. */
export function stateOfCopy(live: LiveCopy): JobState {
  return live.envelope.waiting ? 'waiting' : STATE_OF_QUEUE[live.stats.state];
}
