/**
 * The flow loop (docs/flows-design.md): every manager reserves the waiters of jobs with
 * `depends_on` from `<prefix>_flows`, on connections of its own (a reserve blocks its
 * connection). beanstalkd hands each waiter to one reserver, so no lease is needed. For a waiter
 * its job's queue ref names, the loop reads the parents' outcomes (point reads by `_id`) and:
 * releases the job — puts its real copy in its type's tube on hold, names it in the queue ref,
 * kicks it, deletes the waiter; ends it, when a parent failed or was cancelled and the policy
 * says so — stores its outcome like a manager's cancel (manager-outcome.ts), deletes the
 * waiter; or looks again later — releases the waiter with a delay of 1 s doubling to 30 s, and
 * until then follows the completion notices (completion-follower.ts, at its relaxed pace) for
 * the parents it still waits for: when one ends, it kicks the waiter, which is looked at again
 * at once. A parent that ends between its outcome's read and that follow is seen at the next
 * look; so is every end when the manager that looked last is gone.
 *
 * At most one real copy: only the holder of the waiter the queue ref names puts one, and it
 * names the copy in the ref before anything can run it (the copy is on hold until kicked; a
 * worker runs a copy never kicked only if the ref names it). A loop killed at any step leaves
 * the waiter to come back (its connection closed), and the next holder finds the ref naming a
 * real copy (it kicks it if still on hold, and deletes the waiter) or still naming the waiter
 * (it puts a copy; one put before the crash is never named, and is deleted by the worker that
 * gets it when its hold ends).
 *
 * A group's completion job (`on_complete`) waits the same way; its one condition is its group's
 * end, read from the group's marks (groups/on-complete.ts), looked at every 5 s at most, and
 * sooner once its last open members end (parent-wakes.ts).
 */
import { decodeEnvelope, type Envelope } from '../../jobs/envelope.js';
import { createNaps } from '../../jobs/naps.js';
import { flowTube } from '../../jobs/queue-copy.js';
import type { Tally } from '../../jobs/tally.js';
import type { Logger } from '../../log.js';
import {
  type ConnectionOptions,
  type Consumer,
  connectionTo,
  createConsumer,
  type QueueSet,
  type ReservedJob,
} from '../../queue/index.js';
import {
  type JobDocument,
  mapConcurrently,
  Outcome,
  POINT_READS_IN_FLIGHT,
  type Store,
} from '../../store/index.js';
import { groupVerdict } from '../groups/on-complete.js';
import type { CompletionFollower } from '../jobs/completion-follower.js';
import { createManagerOutcomes } from '../jobs/manager-outcome.js';
import { createFlowCopies, quietly } from './flow-copies.js';
import { parentsVerdict, waiterDelaySeconds } from './flow-rules.js';
import { createParentWakes } from './parent-wakes.js';

export interface FlowLoopDeps {
  /** Timeouts for the lanes' connections (each server's host and port come from `queue`). */
  connection: ConnectionOptions;
  queue: QueueSet;
  store: Store;
  log: Logger;
  tubePrefix: string;
  /** Counts the outcomes the loop stores for jobs whose parents failed (jobs/tally.ts). */
  tally: Tally;
  /** Waiters judged at once per server, each lane on its own connection (default 2). */
  lanes?: number;
  /** Seconds a lane's reserve waits before looking again (default 2). */
  reserveTimeoutSeconds?: number;
  /** Tells the loop when a waiting child's parent ends (absent: the child waits for its next look). */
  follower?: Pick<CompletionFollower, 'register'>;
}

/** What the loop did with one waiter (tests and logs). */
export type WaiterFate = 'released' | 'ended' | 'waiting' | 'dropped';

/** A waiter released after trouble (its own priority unread): beanstalkd's usual default. */
const WAITER_PRIORITY = 1024;
/**
 * Longest wait between looks at a group's completion job: a look costs two reads by `_id`
 * however large the group, and a group's end should not wait the 30 s a child's parents may.
 */
const GROUP_LOOK_SECONDS = 5;
/** Seconds a waiter whose store or beanstalkd failed waits before the next look. */
const TROUBLE_DELAY_SECONDS = 5;

export function startFlowLoop(deps: FlowLoopDeps): { stop(): Promise<void> } {
  const { queue, store } = deps;
  const log = deps.log.child({ task: 'flows' });
  const outcomes = createManagerOutcomes(deps);
  const reserveTimeout = deps.reserveTimeoutSeconds ?? 2;
  let stopping = false;
  const consumers: Consumer[] = [];
  const naps = createNaps();
  const wakes = deps.follower
    ? createParentWakes({
        queue,
        follower: deps.follower,
        store,
        tubePrefix: deps.tubePrefix,
        stopping: () => stopping,
      })
    : undefined;

  const { releaseJob, namedElsewhere } = createFlowCopies({ queue, store, tubePrefix: deps.tubePrefix });

  /** One waiter's look; throws when a backend failed (the caller releases it for later). */
  async function judgeOne(consumer: Consumer, server: string, waiter: ReservedJob): Promise<WaiterFate> {
    const envelope = decodeEnvelope(waiter.body);
    if (!envelope?.waiting) {
      log.warn({ beanstalkId: waiter.beanstalkId }, 'burying a body in the flows tube that is not a waiter');
      await consumer.bury(waiter.beanstalkId, 2 ** 31);
      return 'dropped';
    }
    const id = envelope.id;
    const jobLog = log.child({ jobId: id });
    const drop = async (why: string): Promise<WaiterFate> => {
      jobLog.info(why);
      await consumer.delete(waiter.beanstalkId);
      return 'dropped';
    };
    const result = await store.findResult(id);
    if (result) {
      // Ended by a loop that died before its marks, perhaps: they are written again.
      await outcomes.markAgain(result);
      return await drop('dropping the waiter of a job that has ended');
    }
    const named = await namedElsewhere(id, waiter, server);
    if (named === 'another live copy') return await drop('dropping a waiter its queue ref does not name');
    if (named === 'nothing live') {
      // The ref names a copy that is gone: it ended (outcome stored before its delete), or was
      // lost, and then the ref's writer or the reconciler names another copy soon.
      if (await store.findResult(id)) return await drop('dropping the waiter of a job that has ended');
      await lookLater(consumer, waiter, 1);
      return 'waiting';
    }
    const job = await store.findJob(id);
    if (!job) return await drop('dropping a waiter with no job record (its POST failed)');
    if (job.flow?.afterGroup !== undefined)
      return await judgeCompletion(consumer, server, waiter, job, job.flow.afterGroup, envelope, jobLog);
    const parents = job.flow?.dependsOn ?? [];
    const found = await mapConcurrently(parents, POINT_READS_IN_FLIGHT, (parent) => store.findResult(parent));
    const verdict = parentsVerdict(job.flow, found);
    if ('release' in verdict) {
      await releaseJob(job, envelope, jobLog);
      jobLog.info('parents done; job released to its tube');
      await quietly('delete the waiter', () => consumer.delete(waiter.beanstalkId), jobLog);
      return 'released';
    }
    if ('end' in verdict) {
      const ended = await outcomes.end(id, job, null, verdict.end);
      jobLog.info(
        {
          outcome: ended.stored ? verdict.end.outcome : ended.winner?.outcome,
          reason: verdict.end.error?.message,
        },
        ended.stored ? 'job ended by its parent' : 'job had ended already',
      );
      await quietly('delete the waiter', () => consumer.delete(waiter.beanstalkId), jobLog);
      return 'ended';
    }
    const delay = await lookLater(consumer, waiter);
    const pending = parents.filter((_, i) => found[i] === null);
    void wakes?.wakeOnEnd(id, { server, beanstalkId: waiter.beanstalkId }, pending, delay, jobLog);
    return 'waiting';
  }

  /** A group's completion job: released once every member has an outcome (its marks say so). */
  async function judgeCompletion(
    consumer: Consumer,
    server: string,
    waiter: ReservedJob,
    job: JobDocument,
    group: string,
    envelope: Envelope,
    jobLog: Logger,
  ): Promise<WaiterFate> {
    const verdict = await groupVerdict(store, group);
    if ('release' in verdict) {
      await releaseJob(job, envelope, jobLog);
      jobLog.info({ group }, 'group ended; its completion job released to its tube');
      await quietly('delete the waiter', () => consumer.delete(waiter.beanstalkId), jobLog);
      return 'released';
    }
    if ('missing' in verdict) {
      // Its group document is written before it is accepted: only retention removes it.
      const ended = await outcomes.end(job._id, job, null, {
        outcome: Outcome.FAILED,
        error: { message: `group ${group} not found` },
      });
      jobLog.warn({ group, stored: ended.stored }, 'completion job failed: its group is gone');
      await quietly('delete the waiter', () => consumer.delete(waiter.beanstalkId), jobLog);
      return 'ended';
    }
    const delay = await lookLater(consumer, waiter, undefined, GROUP_LOOK_SECONDS);
    const open = verdict.wait.jobs
      .filter((member) => member.state === 'unfinished')
      .map((member) => member.id);
    void wakes?.wakeOnGroupEnd(
      job._id,
      { server, beanstalkId: waiter.beanstalkId },
      group,
      open,
      delay,
      jobLog,
    );
    return 'waiting';
  }

  /**
   * Releases the waiter for its next look (`delay`, else its backoff, at most `cap` seconds);
   * answers the delay in seconds.
   */
  async function lookLater(
    consumer: Consumer,
    waiter: ReservedJob,
    delay?: number,
    cap = Number.POSITIVE_INFINITY,
  ): Promise<number> {
    const stats = await consumer.statsJob(waiter.beanstalkId);
    const seconds = delay ?? Math.min(cap, waiterDelaySeconds(stats.releases));
    await consumer.release(waiter.beanstalkId, { priority: stats.priority, delay: seconds });
    return seconds;
  }

  async function lane(consumer: Consumer, server: string): Promise<void> {
    let failures = 0;
    while (!stopping) {
      let waiter: ReservedJob | null;
      try {
        waiter = await consumer.reserve(reserveTimeout);
        failures = 0;
      } catch (error: unknown) {
        if (stopping) break;
        failures += 1;
        if (failures === 1) log.warn({ err: error }, 'beanstalkd unavailable for flows; retrying');
        await naps.nap(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
        continue;
      }
      if (!waiter) continue;
      const held = waiter;
      try {
        await judgeOne(consumer, server, held);
      } catch (error: unknown) {
        // Never the lane's end: the waiter comes back for another look.
        log.warn(
          { err: error, beanstalkId: held.beanstalkId },
          'could not judge a waiter; looking again later',
        );
        await consumer
          .release(held.beanstalkId, { priority: WAITER_PRIORITY, delay: TROUBLE_DELAY_SECONDS })
          .catch(() => undefined);
      }
    }
  }

  // Waiters are put on any of the servers: each server gets its lanes.
  const lanes = queue.servers.flatMap((server) =>
    Array.from({ length: deps.lanes ?? 2 }, () => {
      const consumer = createConsumer({
        ...connectionTo(server.server, deps.connection),
        tubes: [flowTube(deps.tubePrefix)],
      });
      consumers.push(consumer);
      return lane(consumer, server.server);
    }),
  );

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        naps.wakeAll();
        // A waiter being judged goes back with its connection; the next holder starts over.
        await Promise.all(consumers.map((consumer) => consumer.close()));
        await Promise.all(lanes);
      })();
      return stopped;
    },
  };
}
