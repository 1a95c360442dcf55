/**
 * `stats-job` for every slot of a worker over one shared connection per server, written and read
 * in bursts. A worker asks beanstalkd how often each job it reserves was delivered before
 * (the attempt, the TTR, kicks); asked on the slot's own connection that is one write and one
 * read per job, and on this VM a loopback write costs about 40 µs of CPU: with a drain running,
 * the socket writes were a tenth of a worker's busy time. Here the questions asked within one
 * turn of the event loop leave in one write, and their answers are read as they come, several
 * to a read.
 *
 * jackd cannot do this (docs/facts.md, "jackd 2.2.2": a reply with a body swallows what follows
 * it in the same read), so this is the one place that speaks the protocol itself, for one
 * command: `stats-job <id>\r\n`, answered `OK <bytes>\r\n<yaml>\r\n` or `NOT_FOUND\r\n`, in
 * order. Any other answer, a silent server (commandTimeoutMs without an answer while one is
 * due) or a closed socket fails every question in flight and drops the connection; the next
 * question opens a new one. Callers fall back to their own connection on such a failure.
 */
import { connect, type Socket } from 'node:net';
import type { ConnectionOptions } from './connection.js';
import { QueueError, QueueErrorCode } from './errors.js';
import { type JobStats, parseJobStats } from './job-stats.js';
import { assertBeanstalkId } from './validate.js';

/** Questions written and not yet answered, at most; the rest wait for the next write. */
export const LANE_MAX_IN_FLIGHT = 256;

interface Question {
  id: string;
  resolve: (stats: JobStats) => void;
  reject: (error: QueueError) => void;
}

export interface JobStatsLane {
  /** beanstalkd's `stats-job` for a job of this lane's server; NOT_FOUND when it has no such job. */
  statsJob(beanstalkId: string): Promise<JobStats>;
  /** Fails what is waiting and closes the connection; later questions fail too. */
  close(): void;
}

const CRLF = Buffer.from('\r\n');
const NOTHING = Buffer.alloc(0);

export function createJobStatsLane(options: ConnectionOptions): JobStatsLane {
  const waiting: Question[] = [];
  const inFlight: Question[] = [];
  let socket: Socket | undefined;
  let connected = false;
  let received: Buffer = Buffer.alloc(0);
  let flushing = false;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  /** Fails everything asked so far and forgets the connection: its replies can no longer be matched. */
  function drop(error: QueueError): void {
    clearTimeout(timer);
    timer = undefined;
    const dead = socket;
    socket = undefined;
    connected = false;
    received = Buffer.alloc(0);
    dead?.destroy();
    for (const question of inFlight.splice(0)) question.reject(error);
    for (const question of waiting.splice(0)) question.reject(error);
  }

  /**
   * Armed when questions go out on a connection with none in flight, re-armed at every answer:
   * the server has commandTimeoutMs to give the next one.
   */
  function armTimer(): void {
    clearTimeout(timer);
    timer =
      inFlight.length > 0 || (socket !== undefined && !connected)
        ? setTimeout(
            () => {
              drop(
                new QueueError(
                  QueueErrorCode.TIMEOUT,
                  connected
                    ? `beanstalkd did not answer stats-job within ${options.commandTimeoutMs} ms`
                    : `could not connect to beanstalkd within ${options.connectTimeoutMs} ms`,
                ),
              );
            },
            connected ? options.commandTimeoutMs : options.connectTimeoutMs,
          )
        : undefined;
    timer?.unref();
  }

  function open(): void {
    const opened = connect({ host: options.host, port: options.port });
    socket = opened;
    opened.setNoDelay(true);
    opened.on('connect', () => {
      if (socket !== opened) return;
      connected = true;
      clearTimeout(timer);
      timer = undefined;
      write();
    });
    opened.on('data', (chunk: Buffer) => {
      if (socket === opened) read(chunk);
    });
    const lost = (error?: Error) => {
      if (socket !== opened) return;
      drop(
        new QueueError(QueueErrorCode.UNAVAILABLE, 'beanstalkd connection closed', {
          ...(error ? { cause: error } : {}),
        }),
      );
    };
    opened.on('error', lost);
    opened.on('close', () => lost());
    armTimer();
  }

  function write(): void {
    flushing = false;
    if (waiting.length === 0 || closed) return;
    if (!socket) {
      open();
      return;
    }
    if (!connected) return;
    const room = LANE_MAX_IN_FLIGHT - inFlight.length;
    if (room <= 0) return;
    const batch = waiting.splice(0, room);
    inFlight.push(...batch);
    socket.write(batch.map((question) => `stats-job ${question.id}\r\n`).join(''));
    // Running already: the oldest question's clock is not reset by newer ones.
    if (timer === undefined) armTimer();
  }

  function answer(error: QueueError | undefined, body?: string): void {
    const question = inFlight.shift();
    if (!question) {
      drop(new QueueError(QueueErrorCode.SERVER_ERROR, 'beanstalkd answered a stats-job nobody asked'));
      return;
    }
    if (error) {
      question.reject(error);
      return;
    }
    try {
      question.resolve(parseJobStats(body ?? ''));
    } catch (parseError: unknown) {
      question.reject(
        parseError instanceof QueueError
          ? parseError
          : new QueueError(QueueErrorCode.SERVER_ERROR, 'stats-job: unreadable answer', {
              cause: parseError,
            }),
      );
    }
  }

  function read(chunk: Buffer): void {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    let at = 0;
    for (;;) {
      const end = received.indexOf(CRLF, at);
      if (end < 0) break;
      const line = received.toString('latin1', at, end);
      if (line.startsWith('OK ')) {
        const bytes = Number(line.slice(3));
        if (!Number.isSafeInteger(bytes) || bytes < 0) {
          drop(
            new QueueError(
              QueueErrorCode.SERVER_ERROR,
              `stats-job: unexpected answer ${JSON.stringify(line)}`,
            ),
          );
          return;
        }
        const bodyEnd = end + 2 + bytes;
        if (received.length < bodyEnd + 2) break;
        answer(undefined, received.toString('utf8', end + 2, bodyEnd));
        at = bodyEnd + 2;
      } else if (line === 'NOT_FOUND') {
        answer(new QueueError(QueueErrorCode.NOT_FOUND, 'NOT_FOUND'));
        at = end + 2;
      } else {
        // OUT_OF_MEMORY, INTERNAL_ERROR, BAD_FORMAT, UNKNOWN_COMMAND … : unsure what the
        // server makes of the rest of the stream, so it is not read further.
        drop(
          new QueueError(
            QueueErrorCode.SERVER_ERROR,
            `stats-job: unexpected answer ${JSON.stringify(line.slice(0, 80))}`,
          ),
        );
        return;
      }
      if (!socket) return;
    }
    received = at === 0 ? received : at === received.length ? NOTHING : received.subarray(at);
    armTimer();
    if (waiting.length > 0) schedule();
  }

  function schedule(): void {
    if (flushing) return;
    flushing = true;
    // After this turn's I/O callbacks: the slots whose reserves answered in it ask together.
    setImmediate(write);
  }

  return {
    statsJob(beanstalkId) {
      try {
        assertBeanstalkId(beanstalkId);
      } catch (error: unknown) {
        return Promise.reject(error);
      }
      if (closed) {
        return Promise.reject(
          new QueueError(QueueErrorCode.UNAVAILABLE, 'beanstalkd connection closed by us'),
        );
      }
      return new Promise<JobStats>((resolve, reject) => {
        waiting.push({ id: beanstalkId, resolve, reject });
        schedule();
      });
    },

    close() {
      closed = true;
      drop(new QueueError(QueueErrorCode.UNAVAILABLE, 'beanstalkd connection closed by us'));
    },
  };
}
