/**
 * Waking a flow's waiting job when what it waits for ends (docs/flows-design.md, "Woken when
 * a parent ends"): until the waiter's next look, the manager's completion follower is told the
 * parents still unfinished, or a group's last open members, at its relaxed pace; then the waiter
 * is kicked (delayed → ready) so that a lane of any manager looks at it now. A child is woken at
 * its first parent's end; a group's completion job once every member followed has ended and the
 * group's marks say it is done. Best effort: the looks stay the guarantee.
 */
import { flowTube } from '../../jobs/queue-copy.js';
import type { Logger } from '../../log.js';
import { isQueueError, QueueErrorCode, type QueueSet } from '../../queue/index.js';
import type { Groups, QueueLocation } from '../../store/index.js';
import { groupVerdict } from '../groups/on-complete.js';
import type { CompletionFollower } from '../jobs/completion-follower.js';
import { findLiveCopy } from '../jobs/read/queue-location.js';

/** A completion job's group is followed member by member once at most this many are open. */
export const GROUP_WAKE_OPEN_AT_MOST = 100;
/**
 * After its last member's end, the group's marks are read again after these pauses (ms) until
 * they say it is done: a member's worker writes its mark after its outcome, and the end's
 * notice may come before the mark.
 */
const GROUP_MARK_PAUSES_MS = [0, 100, 250, 500, 1000];

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export interface ParentWakesDeps {
  queue: QueueSet;
  follower: Pick<CompletionFollower, 'register'>;
  /** For a group's marks. */
  store: Pick<Groups, 'findGroup' | 'readGroupMarks'>;
  tubePrefix: string;
  /** True once the flow loop stops: nothing is registered or kicked then. */
  stopping: () => boolean;
}

export function createParentWakes(deps: ParentWakesDeps) {
  const { queue, follower } = deps;

  /** Kicks job `id`'s waiter at `waiter` if it is still that, and delayed; nothing here throws. */
  async function kickWaiter(
    id: string,
    waiter: Pick<QueueLocation, 'server' | 'beanstalkId'>,
    log: Logger,
  ): Promise<void> {
    try {
      // Still this job's waiter, and waiting out its delay: beanstalkd ids repeat after a
      // restart, and a kick of another job's id could start a delayed or buried job early.
      const live = await findLiveCopy(queue, id, { ...waiter, tube: flowTube(deps.tubePrefix) });
      if (!live?.envelope.waiting || live.stats.state !== 'delayed') return;
      await live.queue.kickJob(waiter.beanstalkId);
    } catch (error: unknown) {
      // Reserved by a lane meanwhile, or gone: its look is under way or over.
      if (!isQueueError(error, QueueErrorCode.NOT_FOUND))
        log.debug({ err: error }, 'could not kick a waiter whose wait ended');
    }
  }

  /**
   * Registers a relaxed wait for the end of each of `jobs`, for `delaySeconds`; stops at the
   * first the follower refuses (full: the next look is soon enough) or at an error. The waits
   * registered, in order; the caller decides what fewer than all of them mean.
   */
  async function followEnds(
    jobs: readonly string[],
    delaySeconds: number,
    log: Logger,
    what: string,
  ): Promise<Array<{ until: Promise<string>; cancel: () => void }>> {
    const waits: Array<{ until: Promise<string>; cancel: () => void }> = [];
    try {
      for (const job of jobs) {
        const wait = await follower.register(job, delaySeconds * 1000, undefined, 'relaxed');
        if (!wait) break;
        waits.push(wait);
      }
    } catch (error: unknown) {
      log.debug({ err: error }, `could not follow ${what}; looking at the next turn`);
    }
    return waits;
  }

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
      const waits = await followEnds(parents, delaySeconds, log, "a waiting job's parents");
      if (waits.length === 0) return;
      const end = await Promise.race(waits.map((wait) => wait.until));
      for (const wait of waits) wait.cancel();
      if (end !== 'ended' || deps.stopping()) return;
      await kickWaiter(id, waiter, log);
    },

    /**
     * Follows the ends of a group's open `members` (at most GROUP_WAKE_OPEN_AT_MOST) for
     * `delaySeconds`; once every one has ended and the group's marks say it is done, kicks its
     * completion job `id`'s waiter at `waiter`. Nothing here throws.
     */
    async wakeOnGroupEnd(
      id: string,
      waiter: Pick<QueueLocation, 'server' | 'beanstalkId'>,
      group: string,
      members: readonly string[],
      delaySeconds: number,
      log: Logger,
    ): Promise<void> {
      if (members.length === 0 || members.length > GROUP_WAKE_OPEN_AT_MOST || deps.stopping()) return;
      const waits = await followEnds(members, delaySeconds, log, "a group's last members");
      if (waits.length < members.length) {
        // Not every member followed: the next look is soon enough.
        for (const wait of waits) wait.cancel();
        return;
      }
      const ends = await Promise.all(waits.map((wait) => wait.until));
      if (ends.some((end) => end !== 'ended')) return;
      try {
        for (const ms of GROUP_MARK_PAUSES_MS) {
          if (ms > 0) await pause(ms);
          if (deps.stopping()) return;
          const verdict = await groupVerdict(deps.store, group);
          if ('missing' in verdict) return;
          if ('release' in verdict) return await kickWaiter(id, waiter, log);
        }
      } catch (error: unknown) {
        log.debug({ err: error }, "could not read a group's marks after its last end");
      }
    },
  };
}
