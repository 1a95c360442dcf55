/**
 * The manager's view of beanstalkd: pipelined puts on one producer connection, and
 * body-bearing reads (stats, peek) on a small pool of inspector connections, each running
 * one such command at a time.
 */
import type { JackdClient } from 'jackd';
import type { BeanstalkConnection, ConnectionOptions } from './connection.js';
import { ConnectionSlot } from './connection-slot.js';
import { isQueueError, QueueError, QueueErrorCode } from './errors.js';
import { type JobStats, parseJobStats } from './job-stats.js';
import {
  parseServerStats,
  parseTubeList,
  parseTubeStats,
  type ServerStats,
  type TubeStats,
} from './stats.js';
import { assertBeanstalkId, assertTubeName, assertUint32 } from './validate.js';

export interface QueueClientOptions extends ConnectionOptions {
  /** Inspector connections for stats and peek (each runs one body-bearing command at a time). */
  inspectors?: number;
}

export interface PutOptions {
  priority: number;
  delay: number;
  ttr: number;
}

/** A job as beanstalkd holds it right now: its live stats and its body. */
export interface QueuedJob {
  stats: JobStats;
  body: string;
}

export interface QueueClient {
  /** `host:port`, recorded beside every beanstalkd id (ids are per server). */
  readonly server: string;
  put(tube: string, body: string, options: PutOptions): Promise<string>;
  /** stats-job and peek together; null when beanstalkd no longer has the job. */
  inspectJob(beanstalkId: string): Promise<QueuedJob | null>;
  statsJob(beanstalkId: string): Promise<JobStats>;
  peek(beanstalkId: string): Promise<string>;
  deleteJob(beanstalkId: string): Promise<void>;
  /** kick-job: a delayed or buried job becomes ready now (pipelined, like put). */
  kickJob(beanstalkId: string): Promise<void>;
  /**
   * peek-buried in a tube: the buried job beanstalkd would kick next, null when the tube has
   * none. The inspector connection `use`s the tube first (peek-buried reads the used tube).
   */
  peekBuried(tube: string): Promise<{ id: string; body: string } | null>;
  /**
   * peek-ready or peek-delayed in a tube: the job beanstalkd would hand out (or make ready)
   * next, null when the tube has none in that state. Like peekBuried, the inspector connection
   * `use`s the tube first.
   */
  peekNext(tube: string, state: 'ready' | 'delayed'): Promise<{ id: string; body: string } | null>;
  stats(): Promise<ServerStats>;
  statsTube(tube: string): Promise<TubeStats>;
  listTubes(): Promise<string[]>;
  /**
   * pause-tube, sent as a raw command (jackd's pauseTube omits the line ending and hangs
   * the next command, docs/facts.md "jackd 2.2.2"). 0 seconds resumes. The tube is `use`d
   * first so it exists.
   */
  pauseTube(tube: string, seconds: number): Promise<void>;
  close(): Promise<void>;
}

function bodyText(payload: Buffer | string): string {
  return typeof payload === 'string' ? payload : payload.toString('utf8');
}

export function createQueueClient(options: QueueClientOptions): QueueClient {
  const producer = new ConnectionSlot(options);
  const inspectors = Array.from(
    { length: Math.max(1, options.inspectors ?? 2) },
    () => new ConnectionSlot(options),
  );
  let next = 0;

  async function exclusive<T>(name: string, fn: (client: JackdClient) => Promise<T>): Promise<T> {
    const slot = inspectors[next % inspectors.length]!;
    next += 1;
    const connection = await slot.get();
    return connection.command(name, 'exclusive', fn);
  }

  async function onInspector<T>(fn: (connection: BeanstalkConnection) => Promise<T>): Promise<T> {
    const slot = inspectors[next % inspectors.length]!;
    next += 1;
    return fn(await slot.get());
  }

  /**
   * A peek that reads the used tube (peek-buried, -ready, -delayed) on an inspector connection
   * that `use`s the tube first: both written at once, in this order, nothing between them.
   */
  async function peekIn(
    tube: string,
    name: string,
    peek: (client: JackdClient) => Promise<{ id: number | string; payload: Buffer | string }>,
  ): Promise<{ id: string; body: string } | null> {
    assertTubeName(tube);
    return onInspector(async (connection) => {
      if (connection.usedTube !== tube) {
        connection.usedTube = tube;
        void connection.command('use', 'pipelined', (c) => c.use(tube)).catch(() => undefined);
      }
      try {
        const job = await connection.command(name, 'exclusive', peek);
        return { id: assertBeanstalkId(String(job.id)), body: bodyText(job.payload) };
      } catch (error: unknown) {
        if (isQueueError(error, QueueErrorCode.NOT_FOUND)) return null;
        throw error;
      }
    });
  }

  return {
    server: `${options.host}:${options.port}`,

    async put(tube, body, putOptions) {
      assertTubeName(tube);
      assertUint32('priority', putOptions.priority);
      assertUint32('delay', putOptions.delay);
      // jackd turns ttr 0 into 60; beanstalkd treats 0 as 1: ask for what we mean.
      assertUint32('ttr', putOptions.ttr, 1);
      if (typeof body !== 'string' || body.length === 0) {
        // jackd JSON-stringifies Buffers and throws on '' (docs/facts.md, "jackd 2.2.2"): only
        // non-empty strings go in.
        throw new QueueError(QueueErrorCode.INVALID_ARGUMENT, 'a job body must be a non-empty string');
      }
      const connection = await producer.get();
      // Both commands are written before anything else can be scheduled on this connection.
      let using: Promise<string> | undefined;
      if (connection.usedTube !== tube) {
        connection.usedTube = tube;
        using = connection.command('use', 'pipelined', (c) => c.use(tube));
      }
      const put = connection.command('put', 'pipelined', (c) => c.put(body, putOptions));
      if (!using) return put;
      // put's own failure is the one to report: it says whether the job may be queued.
      const [used, putting] = await Promise.allSettled([using, put]);
      if (putting.status === 'rejected') throw putting.reason;
      if (used.status === 'rejected') throw used.reason;
      return putting.value;
    },

    async inspectJob(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      return onInspector(async (connection) => {
        try {
          const stats = parseJobStats(
            await connection.command('stats-job', 'exclusive', (c) => c.statsJob(beanstalkId)),
          );
          const job = await connection.command('peek', 'exclusive', (c) => c.peek(beanstalkId));
          return { stats, body: bodyText(job.payload) };
        } catch (error: unknown) {
          if (isQueueError(error, QueueErrorCode.NOT_FOUND)) return null;
          throw error;
        }
      });
    },

    async statsJob(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      return parseJobStats(await exclusive('stats-job', (c) => c.statsJob(beanstalkId)));
    },

    async peek(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      const job = await exclusive('peek', (c) => c.peek(beanstalkId));
      return bodyText(job.payload);
    },

    async deleteJob(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      const connection = await producer.get();
      await connection.command('delete', 'pipelined', (c) => c.delete(beanstalkId));
    },

    async kickJob(beanstalkId) {
      assertBeanstalkId(beanstalkId);
      const connection = await producer.get();
      await connection.command('kick-job', 'pipelined', (c) => c.kickJob(beanstalkId));
    },

    peekBuried(tube) {
      return peekIn(tube, 'peek-buried', (c) => c.peekBuried());
    },

    peekNext(tube, state) {
      return peekIn(tube, `peek-${state}`, (c) => (state === 'ready' ? c.peekReady() : c.peekDelayed()));
    },

    async stats() {
      return parseServerStats(await exclusive('stats', (c) => c.stats('')));
    },

    async statsTube(tube) {
      assertTubeName(tube);
      return parseTubeStats(await exclusive('stats-tube', (c) => c.statsTube(tube)));
    },

    async listTubes() {
      return parseTubeList(await exclusive('list-tubes', (c) => c.listTubes('')));
    },

    async pauseTube(tube, seconds) {
      assertTubeName(tube);
      assertUint32('seconds', seconds);
      const connection = await producer.get();
      if (connection.usedTube !== tube) {
        connection.usedTube = tube;
        void connection.command('use', 'pipelined', (c) => c.use(tube)).catch(() => undefined);
      }
      await connection.command('pause-tube', 'pipelined', (c) => {
        const send = c.createCommandHandler<[], void>(
          () => Buffer.from(`pause-tube ${tube} ${seconds}\r\n`, 'ascii'),
          [
            async (reply: Buffer) => {
              const ascii = reply.toString('ascii');
              if (ascii !== 'PAUSED') throw new Error(ascii);
            },
          ],
        );
        return send();
      });
    },

    async close() {
      await Promise.all([producer.close(), ...inspectors.map((slot) => slot.close())]);
    },
  };
}
