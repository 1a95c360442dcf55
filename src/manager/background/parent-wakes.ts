/**
 * Waking a flow's waiting child when one of its parents ends (docs/flows-design.md, "Woken when
 * a parent ends"): until the waiter's next look, the manager's completion follower is told the
 * parents still unfinished, at its relaxed pace; at the first end the waiter is kicked (delayed →
 * ready) so that a lane of any manager looks at it now. Best effort: the looks stay the guarantee.
 */
import { flowTube } from '../../jobs/queue-copy.js';
import type { Logger } from '../../log.js';
import { isQueueError, QueueErrorCode, type QueueSet } from '../../queue/index.js';
import type { QueueLocation } from '../../store/index.js';
import type { CompletionFollower } from '../jobs/completion-follower.js';
import { findLiveCopy } from '../jobs/read/queue-location.js';

export interface ParentWakesDeps {
  queue: QueueSet;
  follower: Pick<CompletionFollower, 'register'>;
  tubePrefix: string;
  /** True once the flow loop stops: nothing is registered or kicked then. */
  stopping: () => boolean;
}

export function createParentWakes(deps: ParentWakesDeps) {
  const { queue, follower } = deps;
  return {
    /**
     * Follows the ends of `parents` for `delaySeconds` (the waiter's delay); at the first,
     * kicks job `id`'s waiter at `waiter`. A waiter another lane holds, or one gone, is not
     * kicked, and nothing here throws.
     */
    async wakeOnEnd(
      id: string,
      waiter: Pick<QueueLocation, 'server' | 'beanstalkId'>,
      parents: readonly string[],
      delaySeconds: number,
      log: Logger,
    ): Promise<void> {
      if (parents.length === 0 || deps.stopping()) return;
      const waits: Array<{ until: Promise<string>; cancel: () => void }> = [];
      try {
        for (const parent of parents) {
          const wait = await follower.register(parent, delaySeconds * 1000, undefined, 'relaxed');
          // Full: the next look is soon enough.
          if (!wait) break;
          waits.push(wait);
        }
      } catch (error: unknown) {
        log.debug({ err: error }, "could not follow a waiting job's parents; looking at its next turn");
      }
      if (waits.length === 0) return;
      const end = await Promise.race(waits.map((wait) => wait.until));
      for (const wait of waits) wait.cancel();
      if (end !== 'ended' || deps.stopping()) return;
      try {
        // Still this job's waiter, and waiting out its delay: beanstalkd ids repeat after a
        // restart, and a kick of another job's id could start a delayed or buried job early.
        const live = await findLiveCopy(queue, id, { ...waiter, tube: flowTube(deps.tubePrefix) });
        if (!live?.envelope.waiting || live.stats.state !== 'delayed') return;
        await live.queue.kickJob(waiter.beanstalkId);
      } catch (error: unknown) {
        // Reserved by a lane meanwhile, or gone: its look is under way or over.
        if (!isQueueError(error, QueueErrorCode.NOT_FOUND))
          log.debug({ err: error }, 'could not kick a waiter whose parent ended');
      }
    },
  };
}
