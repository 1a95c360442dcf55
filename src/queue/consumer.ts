/**
 * A worker slot's own beanstalkd connection: it watches the worker's tubes, reserves with a
 * timeout (a blocking reserve blocks every later command on its connection, docs/facts.md
 * "jackd 2.2.2"), and deletes, releases, buries or touches the job it holds — beanstalkd only
 * lets the connection that reserved a job do that. A lost connection is replaced by a new
 * client that watches the same tubes again; the job it held goes back to ready on the server.
 * The tubes watched can change between reserves (`setTubes`): a worker takes a rate- or
 * concurrency-limited type's jobs on only some of its slots (docs/limits-design.md).
 */
import type { ConnectionOptions } from './connection.js';
import { ConnectionSlot } from './connection-slot.js';
import type { QueueError } from './errors.js';
import { type JobStats, parseJobStats } from './job-stats.js';
import { assertBeanstalkId, assertTubeName, assertUint32 } from './validate.js';
import { type Reply, replyError, WireConnection } from './wire-connection.js';

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
  const watching = new WeakMap<WireConnection, ReadonlySet<string>>();
  const watch = (connection: WireConnection, tube: string) =>
    connection.command('watch', 'pipelined', `watch ${tube}\r\n`, expect('watch', 'WATCHING '));
  const ignore = (connection: WireConnection, tube: string) =>
    connection.command('ignore', 'pipelined', `ignore ${tube}\r\n`, expect('ignore', 'WATCHING '));
  const slot = new ConnectionSlot<WireConnection>(
    options,
    async (connection) => {
      const wanted = [...tubes];
      for (const tube of wanted) await watch(connection, tube);
      if (!wanted.includes('default')) await ignore(connection, 'default');
      watching.set(connection, new Set(wanted));
    },
    options.onLost,
    WireConnection.open,
  );

  return {
    server: `${options.host}:${options.port}`,
    reserve(timeoutSeconds) {
      try {
        assertUint32('timeout', timeoutSeconds);
      } catch (error: unknown) {
        return Promise.reject(error);
      }
      const send = (connection: WireConnection) =>
        connection.command(
          'reserve-with-timeout',
          'exclusive',
          `reserve-with-timeout ${timeoutSeconds}\r\n`,
          readReserved,
          timeoutSeconds * 1000 + options.commandTimeoutMs,
        );
      return onConnection(send);
    },

    async statsJob(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      const connection = await slot.get();
      return connection.command('stats-job', 'exclusive', `stats-job ${beanstalkId}\r\n`, (reply) => {
        if (!reply.line.startsWith('OK ')) throw replyError('stats-job', reply.line);
        return parseJobStats(reply.body ?? '');
      });
    },

    delete(beanstalkId) {
      try {
        assertBeanstalkId(beanstalkId);
      } catch (error: unknown) {
        return Promise.reject(error);
      }
      return onConnection((connection) =>
        connection.command('delete', 'pipelined', `delete ${beanstalkId}\r\n`, EXPECT_DELETED),
      );
    },

    async release(beanstalkId, { priority, delay }) {
      assertBeanstalkId(beanstalkId);
      assertUint32('priority', priority);
      assertUint32('delay', delay);
      const connection = await slot.get();
      await connection.command(
        'release',
        'pipelined',
        `release ${beanstalkId} ${priority} ${delay}\r\n`,
        expect('release', 'RELEASED'),
      );
    },

    async bury(beanstalkId, priority) {
      assertBeanstalkId(beanstalkId);
      assertUint32('priority', priority);
      const connection = await slot.get();
      await connection.command(
        'bury',
        'pipelined',
        `bury ${beanstalkId} ${priority}\r\n`,
        expect('bury', 'BURIED'),
      );
    },

    async touch(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      const connection = await slot.get();
      await connection.command('touch', 'pipelined', `touch ${beanstalkId}\r\n`, expect('touch', 'TOUCHED'));
    },

    setTubes(wanted) {
      // Asked before every reserve, and almost always unchanged: then answered without a new
      // promise or array (the tubes watched were checked when they were set).
      const open = slot.peekOpen();
      const current = open && watching.get(open);
      if (current && wanted.length > 0 && sameTubes(current, wanted)) return UNCHANGED;
      return changeTubes(wanted);
    },

    close() {
      return slot.close();
    },
  };

  async function changeTubes(wanted: readonly string[]): Promise<void> {
    if (wanted.length === 0) throw new Error('a consumer needs at least one tube to watch');
    const next = wanted.map((tube) => assertTubeName(tube));
    tubes = next;
    const connection = await slot.get();
    const now = watching.get(connection) ?? new Set<string>();
    const adding = next.filter((tube) => !now.has(tube));
    const dropping = [...now].filter((tube) => !next.includes(tube));
    if (adding.length === 0 && dropping.length === 0) return;
    watching.set(connection, new Set(next));
    // Written in this order, in one go: nothing else on this connection comes between.
    const sent = [
      ...adding.map((tube) => watch(connection, tube)),
      ...dropping.map((tube) => ignore(connection, tube)),
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
  }

  /** `send` on the open connection, or on a new one once it is set up. */
  function onConnection<T>(send: (connection: WireConnection) => Promise<T>): Promise<T> {
    const open = slot.peekOpen();
    return open ? send(open) : slot.get().then(send);
  }
}

/** A settled answer for setTubes when nothing changes. */
const UNCHANGED: Promise<void> = Promise.resolve();

/** Whether `wanted` names exactly the tubes watched (`wanted` has no repeats: one tube per type). */
function sameTubes(watched: ReadonlySet<string>, wanted: readonly string[]): boolean {
  if (watched.size !== wanted.length) return false;
  for (const tube of wanted) if (!watched.has(tube)) return false;
  return true;
}

const EXPECT_DELETED = expect('delete', 'DELETED');

/** A reply check: the expected reply (`DELETED`), or one starting so (`WATCHING `); otherwise its error. */
function expect(command: string, wanted: string): (reply: Reply) => void {
  return (reply) => {
    if (wanted.endsWith(' ') ? !reply.line.startsWith(wanted) : reply.line !== wanted)
      throw replyError(command, reply.line);
  };
}

/**
 * A reserve's reply: the job, or null when none came in time. DEADLINE_SOON only means a job
 * this connection holds is near its TTR; the caller's loop handles that.
 */
function readReserved(reply: Reply): ReservedJob | null {
  if (reply.line === 'TIMED_OUT' || reply.line === 'DEADLINE_SOON') return null;
  const [word, id] = reply.line.split(' ');
  if (word !== 'RESERVED' || reply.body === undefined) throw replyError('reserve-with-timeout', reply.line);
  return { beanstalkId: assertBeanstalkId(id ?? ''), body: reply.body };
}
