/**
 * The flow loop's hold on a waiting job's copies (flow-loop.ts): which copy its queue ref names,
 * and the release of its real copy — put on hold, named in the ref, then kicked — so that
 * nothing unnamed ever runs.
 */
import type { Envelope } from '../../jobs/envelope.js';
import { putCopy, queueCopy } from '../../jobs/queue-copy.js';
import type { Logger } from '../../log.js';
import { isQueueError, QueueErrorCode, type QueueSet, type ReservedJob } from '../../queue/index.js';
import type { JobDocument, Store } from '../../store/index.js';
import { findLiveCopy } from '../jobs/read/queue-location.js';

/** Runs `action`, logging its failure instead of throwing: for steps a later look repeats. */
export const quietly = (what: string, action: () => Promise<unknown>, jobLog: Logger) =>
  action().catch((error: unknown) => jobLog.warn({ err: error }, `could not ${what}`));

export function createFlowCopies(deps: { queue: QueueSet; store: Store; tubePrefix: string }) {
  const { queue, store } = deps;

  /** Puts the job's real copy on hold, names it in the queue ref, kicks it. */
  async function releaseJob(job: JobDocument, envelope: Envelope, jobLog: Logger): Promise<void> {
    const copy = queueCopy(job, deps.tubePrefix, { released: true, requeued: envelope.requeued === true });
    const { server, beanstalkId } = await putCopy(queue, copy);
    const holder = queue.holder({ server, beanstalkId });
    try {
      await store.replaceQueueRef({
        _id: job._id,
        server,
        beanstalkId,
        tube: copy.tube,
        putAt: new Date(),
      });
    } catch (error: unknown) {
      // Unnamed, it must not run: removed now, or by the worker that gets it when its hold ends.
      await quietly('delete an unnamed released copy', () => holder.deleteJob(beanstalkId), jobLog);
      throw error;
    }
    // Named: from here it is the job's one copy, kicked or not (a worker runs it at the hold's end).
    await quietly('kick the released copy', () => holder.kickJob(beanstalkId), jobLog);
  }

  /** The job's copy the queue ref names, when it is another live one than this waiter. */
  async function namedElsewhere(
    id: string,
    waiter: ReservedJob,
    server: string,
  ): Promise<'this waiter' | 'another live copy' | 'nothing live'> {
    const ref = await store.findQueueRef(id);
    if (ref === null) return 'nothing live';
    if (ref.server === server && ref.beanstalkId === waiter.beanstalkId) return 'this waiter';
    const live = await findLiveCopy(queue, id, ref);
    if (!live) return 'nothing live';
    // A released copy its loop died before kicking: kick it now rather than wait out its hold.
    if (live.envelope.released && live.stats.state === 'delayed' && live.stats.kicks === 0) {
      await live.queue.kickJob(live.stats.id).catch((error: unknown) => {
        if (!isQueueError(error, QueueErrorCode.NOT_FOUND)) throw error;
      });
    }
    return 'another live copy';
  }

  return { releaseJob, namedElsewhere };
}
