/**
 * A worker slot's own beanstalkd connection: it watches the worker's tubes, reserves with a
 * timeout (a blocking reserve blocks every later command on its connection, docs/facts.md
 * "jackd 2.2.2"), and deletes, releases, buries or touches the job it holds — beanstalkd only
 * lets the connection that reserved a job do that. A lost connection is replaced by a new
 * client that watches the same tubes again; the job it held goes back to ready on the server.
 * The tubes watched can change between reserves (`setTubes`): a worker takes a rate- or
 * concurrency-limited type's jobs on only some of its slots (docs/limits-design.md).
 */
import type { BeanstalkConnection, ConnectionOptions } from './connection.js';
import { ConnectionSlot } from './connection-slot.js';
import { isQueueError, type QueueError, QueueErrorCode } from './errors.js';
import { type JobStats, parseJobStats } from './stats.js';
import { assertBeanstalkId, assertTubeName, assertUint32 } from './validate.js';

export interface ReservedJob {
  /** beanstalkd's id: internal, only meaningful on the server that gave it. */
  beanstalkId: string;
  body: string;
}

export interface Consumer {
  /** `host:port` of the server it reserves from: its jobs' beanstalkd ids are that server's. */
  readonly server: string;
  /** The next job from the watched tubes, or null when none came within `timeoutSeconds`. */
  reserve(timeoutSeconds: number): Promise<ReservedJob | null>;
  statsJob(beanstalkId: string): Promise<JobStats>;
  delete(beanstalkId: string): Promise<void>;
  release(beanstalkId: string, options: { priority: number; delay: number }): Promise<void>;
  bury(beanstalkId: string, priority: number): Promise<void>;
  touch(beanstalkId: string): Promise<void>;
  /**
   * Watches exactly these tubes (at least one) from the next reserve on: `watch` the new ones
   * before `ignore`-ing the old (beanstalkd refuses to ignore the last), both pipelined. Costs
   * nothing when the set is unchanged.
   */
  setTubes(tubes: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export function createConsumer(
  options: ConnectionOptions & { tubes: readonly string[]; onLost?: (reason: QueueError) => void },
): Consumer {
  if (options.tubes.length === 0) throw new Error('a consumer needs at least one tube to watch');
  let tubes = options.tubes.map((tube) => assertTubeName(tube));
  /** What each connection watches now: a new one starts from `tubes` as they are then. */
  const watching = new WeakMap<BeanstalkConnection, ReadonlySet<string>>();
  const slot = new ConnectionSlot(
    options,
    async (connection) => {
      const wanted = [...tubes];
      for (const tube of wanted) await connection.command('watch', 'pipelined', (c) => c.watch(tube));
      if (!wanted.includes('default'))
        await connection.command('ignore', 'pipelined', (c) => c.ignore('default'));
      watching.set(connection, new Set(wanted));
    },
    options.onLost,
  );

  return {
    server: `${options.host}:${options.port}`,
    async reserve(timeoutSeconds) {
      assertUint32('timeout', timeoutSeconds);
      const connection = await slot.get();
      try {
        const job = await connection.command(
          'reserve-with-timeout',
          'exclusive',
          (c) => c.reserveWithTimeout(timeoutSeconds),
          timeoutSeconds * 1000 + options.commandTimeoutMs,
        );
        const body = typeof job.payload === 'string' ? job.payload : job.payload.toString('utf8');
        return { beanstalkId: assertBeanstalkId(job.id), body };
      } catch (error: unknown) {
        // DEADLINE_SOON only means a job we hold is near its TTR; the caller's loop handles that.
        if (
          isQueueError(error, QueueErrorCode.TIMED_OUT) ||
          isQueueError(error, QueueErrorCode.DEADLINE_SOON)
        ) {
          return null;
        }
        throw error;
      }
    },

    async statsJob(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      const connection = await slot.get();
      return parseJobStats(
        await connection.command('stats-job', 'exclusive', (c) => c.statsJob(beanstalkId)),
      );
    },

    async delete(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      const connection = await slot.get();
      await connection.command('delete', 'pipelined', (c) => c.delete(beanstalkId));
    },

    async release(beanstalkId, { priority, delay }) {
      assertBeanstalkId(beanstalkId);
      assertUint32('priority', priority);
      assertUint32('delay', delay);
      const connection = await slot.get();
      await connection.command('release', 'pipelined', (c) => c.release(beanstalkId, { priority, delay }));
    },

    async bury(beanstalkId, priority) {
      assertBeanstalkId(beanstalkId);
      assertUint32('priority', priority);
      const connection = await slot.get();
      await connection.command('bury', 'pipelined', (c) => c.bury(beanstalkId, priority));
    },

    async touch(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      const connection = await slot.get();
      await connection.command('touch', 'pipelined', (c) => c.touch(beanstalkId));
    },

    async setTubes(wanted) {
      if (wanted.length === 0) throw new Error('a consumer needs at least one tube to watch');
      const next = wanted.map((tube) => assertTubeName(tube));
      tubes = next;
      const open = slot.peekOpen();
      const current = open && watching.get(open);
      if (current && current.size === next.length && next.every((tube) => current.has(tube))) return;
      const connection = await slot.get();
      const now = watching.get(connection) ?? new Set<string>();
      const adding = next.filter((tube) => !now.has(tube));
      const dropping = [...now].filter((tube) => !next.includes(tube));
      if (adding.length === 0 && dropping.length === 0) return;
      watching.set(connection, new Set(next));
      // Written in this order, in one go: nothing else on this connection comes between.
      const sent = [
        ...adding.map((tube) => connection.command('watch', 'pipelined', (c) => c.watch(tube))),
        ...dropping.map((tube) => connection.command('ignore', 'pipelined', (c) => c.ignore(tube))),
      ];
      try {
        await Promise.all(sent);
      } catch (error: unknown) {
        // Unknown what the server now watches for this connection: drop it, and its
        // replacement starts from `tubes`.
        watching.delete(connection);
        connection.destroy();
        throw error;
      }
    },

    close() {
      return slot.close();
    },
  };
}
