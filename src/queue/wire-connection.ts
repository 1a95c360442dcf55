/**
 * One beanstalkd connection that speaks the protocol itself, for a worker slot's commands
 * (reserve, stats-job, delete, release, bury, touch, watch, ignore). Measured against jackd
 * through connection.ts (a scratch drain of 40,000 jobs, 64 connections, docs/performance-journal.md
 * "The worker's own wire"): 62-79 µs of client CPU a job there, 22-25 µs here. The rules
 * are connection.ts's, kept for the same reasons:
 * - commands leave in the order they were asked, those of one tick in one write; nothing is
 *   written after an "exclusive" command (a reserve blocks the connection on the server) until
 *   its reply is in, and at most MAX_IN_FLIGHT are unanswered;
 * - replies are matched in order; a command unanswered past its timeout drops the connection
 *   (a late reply would be matched to the next command), as does a reply that cannot be read;
 * - on a close every command written fails in doubt (the server may have done it), every
 *   command not yet written fails plainly; a closed connection is never reused.
 */
import { connect, type Socket } from 'node:net';
import type { CommandMode, ConnectionOptions } from './connection.js';
import { ClosingConnection, connectTimedOut, MAX_IN_FLIGHT } from './connection.js';
import { normaliseQueueError, QueueError, QueueErrorCode } from './errors.js';

/** A reply: its first line, and the body that RESERVED, FOUND and OK carry. */
export interface Reply {
  line: string;
  body?: string;
}

interface Task {
  name: string;
  mode: CommandMode;
  request: string;
  timeoutMs: number;
  /** When its reply is due: set as it is written. */
  deadline: number;
  /** What the reply means: the value to resolve with, or a thrown QueueError. */
  parse: (reply: Reply) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const CRLF = Buffer.from('\r\n');
const NOTHING = Buffer.alloc(0);
const BODY_REPLY = /^(?:RESERVED \d+ |FOUND \d+ |OK )(\d+)$/;

export class WireConnection extends ClosingConnection {
  private readonly socket: Socket;
  private readonly options: ConnectionOptions;
  private readonly waiting: Task[] = [];
  private readonly sent: Task[] = [];
  private outgoing: string[] = [];
  private flushing = false;
  private exclusiveActive = false;
  private received: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;

  private constructor(options: ConnectionOptions, socket: Socket) {
    super();
    this.options = options;
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.watch(socket);
  }

  /** Connects, or rejects with UNAVAILABLE within connectTimeoutMs. */
  static open(options: ConnectionOptions): Promise<WireConnection> {
    return new Promise<WireConnection>((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port });
      const connection = new WireConnection(options, socket);
      const timer = setTimeout(() => connection.destroy(connectTimedOut(options)), options.connectTimeoutMs);
      connection.onClose((reason) => {
        clearTimeout(timer);
        reject(reason);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(connection);
      });
    });
  }

  /**
   * Sends `request` (the whole command, line endings included) and resolves with what `parse`
   * makes of its reply; `parse` throws a QueueError for a reply that means failure.
   */
  command<T>(
    name: string,
    mode: CommandMode,
    request: string,
    parse: (reply: Reply) => T,
    timeoutMs: number = this.options.commandTimeoutMs,
  ): Promise<T> {
    if (this.closeReason) return Promise.reject(this.closeReason);
    return new Promise<T>((resolve, reject) => {
      // The task holds the parser and the promise's ends itself: a worker sends two commands a
      // job, and a closure around them was one more object each for the collector.
      this.waiting.push({
        name,
        mode,
        request,
        timeoutMs,
        deadline: 0,
        parse,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.pump();
    });
  }

  protected override failAll(reason: QueueError): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.socket.destroy();
    const doubtful = this.sent.length > 0 ? reason.inDoubtCopy() : reason;
    for (const task of this.sent.splice(0)) task.reject(doubtful);
    for (const task of this.waiting.splice(0)) task.reject(reason);
  }

  protected override isIdle(): boolean {
    return this.sent.length === 0 && this.waiting.length === 0;
  }

  protected override socketOf(): Socket {
    return this.socket;
  }

  private pump(): void {
    while (this.waiting.length > 0 && !this.exclusiveActive && this.sent.length < MAX_IN_FLIGHT) {
      const task = this.waiting.shift()!;
      if (task.mode === 'exclusive') this.exclusiveActive = true;
      task.deadline = Date.now() + task.timeoutMs;
      this.sent.push(task);
      this.outgoing.push(task.request);
      this.armTimer(task.deadline);
    }
    if (this.outgoing.length > 0 && !this.flushing) {
      this.flushing = true;
      // The commands of this tick leave together, in one write.
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushing = false;
    if (this.closeReason || this.outgoing.length === 0) return;
    const out = this.outgoing.length === 1 ? this.outgoing[0]! : this.outgoing.join('');
    this.outgoing = [];
    this.socket.write(out);
  }

  /**
   * One timer for the earliest deadline, re-armed only when it fires early or a sooner one
   * comes. Deadlines grow along `sent` (a reserve's longer one is last: nothing follows it), so
   * the oldest command's is the one to watch.
   */
  private armTimer(deadline: number): void {
    if (this.timer !== undefined && this.timerDue <= deadline) return;
    clearTimeout(this.timer);
    this.timerDue = deadline;
    this.timer = setTimeout(() => this.checkDeadline(), Math.max(0, deadline - Date.now()));
    this.timer.unref();
  }

  private checkDeadline(): void {
    this.timer = undefined;
    const oldest = this.sent[0];
    if (!oldest) return;
    if (oldest.deadline > Date.now()) {
      this.armTimer(oldest.deadline);
      return;
    }
    this.destroy(
      new QueueError(
        QueueErrorCode.TIMEOUT,
        `${oldest.name}: no answer from beanstalkd within ${oldest.timeoutMs} ms`,
        { inDoubt: true },
      ),
    );
  }

  private read(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    let at = 0;
    for (;;) {
      const end = this.received.indexOf(CRLF, at);
      if (end < 0) break;
      const line = this.received.toString('latin1', at, end);
      const withBody = BODY_REPLY.exec(line);
      let reply: Reply;
      if (withBody) {
        const bodyEnd = end + 2 + Number(withBody[1]);
        if (this.received.length < bodyEnd + 2) break;
        if (this.received[bodyEnd] !== 13 || this.received[bodyEnd + 1] !== 10) {
          this.destroy(
            new QueueError(
              QueueErrorCode.SERVER_ERROR,
              `a body of beanstalkd's ${JSON.stringify(line)} does not end where it said`,
            ),
          );
          return;
        }
        reply = { line, body: this.received.toString('utf8', end + 2, bodyEnd) };
        at = bodyEnd + 2;
      } else {
        reply = { line };
        at = end + 2;
      }
      const task = this.sent.shift();
      if (!task) {
        this.destroy(
          new QueueError(
            QueueErrorCode.SERVER_ERROR,
            `beanstalkd answered ${JSON.stringify(line.slice(0, 80))} to nothing asked`,
          ),
        );
        return;
      }
      if (task.mode === 'exclusive') this.exclusiveActive = false;
      settle(task, reply);
      if (this.closeReason) return;
    }
    // All of it read (the usual case): no view of nothing made for the next chunk to replace.
    this.received =
      at === 0 ? this.received : at === this.received.length ? NOTHING : this.received.subarray(at);
    if (this.sent.length > 0) this.armTimer(this.sent[0]!.deadline);
    this.pump();
  }
}

/** Resolves a task with what its reply means, or rejects it with the QueueError its parser threw. */
function settle(task: Task, reply: Reply): void {
  let value: unknown;
  try {
    value = task.parse(reply);
  } catch (error: unknown) {
    task.reject(error);
    return;
  }
  task.resolve(value);
}

/**
 * The QueueError for a reply that is not the one expected, mapped as jackd's are
 * (errors.ts): beanstalkd's own words keep their codes, anything else is SERVER_ERROR.
 */
export function replyError(command: string, line: string): QueueError {
  return normaliseQueueError(new Error(`Unexpected response: ${line.slice(0, 80)}`), command);
}
