/**
 * One beanstalkd connection through one jackd client, made safe (docs/facts.md, "jackd 2.2.2"):
 * - a reply with a body swallows bytes that follow it, so nothing is sent after a
 *   body-bearing command ("exclusive") until its reply is in; replies without a body
 *   ("pipelined": put, use, delete, ...) may share the connection, and may precede it;
 * - jackd has no timeouts and never settles a pending command when the socket dies, so every
 *   command races a timer and the close of the socket, and a timed-out connection is dropped
 *   (its replies can no longer be matched to commands);
 * - calling connect() twice desyncs a client, so a closed connection is never reused:
 *   callers open a new one.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { JackdClient } from 'jackd';
import { normaliseQueueError, QueueError, QueueErrorCode } from './errors.js';

const require = createRequire(import.meta.url);
// jackd is CommonJS and `module.exports` is the class itself (docs/facts.md, "Toolchain
// versions"); its d.ts says otherwise.
const Jackd = require('jackd') as typeof JackdClient;

export type CommandMode = 'pipelined' | 'exclusive';

/**
 * Commands sent and not yet answered on one connection; the rest wait here, untimed. The
 * command timeout measures the server, not our own queue: with 2,000 puts sent at once to a
 * beanstalkd that fsyncs every write (`-b -f 0`, ~3,800 puts/s here) the last ones waited
 * past the 2 s timeout behind the others, and the whole connection was dropped. 64 keep the
 * pipeline full on loopback and bound a command's wait to 64 of the server's writes.
 */
export const MAX_IN_FLIGHT = 64;

export interface ConnectionOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

interface Task {
  mode: CommandMode;
  start: () => void;
}

/** The error a connection that did not open within `connectTimeoutMs` fails with. */
export function connectTimedOut(options: ConnectionOptions): QueueError {
  return new QueueError(
    QueueErrorCode.UNAVAILABLE,
    `beanstalkd at ${options.host}:${options.port} did not accept a connection within ${options.connectTimeoutMs} ms`,
  );
}

/**
 * What both connections (this jackd one and wire-connection.ts) share: a close that happens
 * once, for the first reason, from the socket's error or close or from us, and tells its
 * listeners after every command has failed.
 */
export abstract class ClosingConnection {
  protected closeReason: QueueError | undefined;
  private readonly closeListeners: Array<(reason: QueueError) => void> = [];

  get isOpen(): boolean {
    return this.closeReason === undefined;
  }

  /** Calls back once when the connection closes, for whatever reason. */
  onClose(listener: (reason: QueueError) => void): void {
    if (this.closeReason) listener(this.closeReason);
    else this.closeListeners.push(listener);
  }

  /** Closes the socket at once and fails every command still waiting or in flight. */
  destroy(
    reason: QueueError = new QueueError(QueueErrorCode.UNAVAILABLE, 'beanstalkd connection closed'),
  ): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    this.failAll(reason);
    for (const listener of this.closeListeners.splice(0)) listener(reason);
  }

  /** Says `quit` politely when idle, then closes. */
  async close(): Promise<void> {
    if (this.closeReason) return;
    if (this.isIdle()) this.socketOf().end('quit\r\n');
    this.destroy(new QueueError(QueueErrorCode.UNAVAILABLE, 'beanstalkd connection closed by us'));
  }

  /** Closes this connection when its socket fails or closes. */
  protected watch(socket: Socket): void {
    // Without our own listener a second socket error is an uncaught 'error' event.
    socket.on('error', (error: Error) => {
      this.destroy(normaliseQueueError(error, 'connection'));
    });
    socket.on('close', () => {
      this.destroy(new QueueError(QueueErrorCode.UNAVAILABLE, 'beanstalkd connection closed'));
    });
  }

  /** Destroys the socket and fails every command waiting or sent: the close's own part. */
  protected abstract failAll(reason: QueueError): void;
  /** No command waiting or unanswered. */
  protected abstract isIdle(): boolean;
  protected abstract socketOf(): Socket;
}

export class BeanstalkConnection extends ClosingConnection {
  /** The tube this connection `use`s for puts; kept in enqueue order by the producer. */
  usedTube = 'default';

  private readonly client: JackdClient;
  private readonly options: ConnectionOptions;
  private readonly waiting: Task[] = [];
  private readonly inFlight = new Set<(error: QueueError) => void>();
  private active = 0;
  private exclusiveActive = false;
  private corked = false;

  private constructor(options: ConnectionOptions) {
    super();
    this.options = options;
    this.client = new Jackd();
    this.watch(this.client.socket);
  }

  /** Connects a fresh client, or rejects with UNAVAILABLE within connectTimeoutMs. */
  static async open(options: ConnectionOptions): Promise<BeanstalkConnection> {
    const connection = new BeanstalkConnection(options);
    const socket = connection.client.socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connection.client.connect({ host: options.host, port: options.port }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(connectTimedOut(options)), options.connectTimeoutMs);
        }),
      ]);
    } catch (error: unknown) {
      const reason = normaliseQueueError(error, 'connect');
      connection.destroy(reason);
      throw reason;
    } finally {
      clearTimeout(timer);
    }
    if (connection.closeReason) throw connection.closeReason;
    return connection;
  }

  /**
   * Runs one jackd command. `fn` must call exactly one jackd method synchronously, so that
   * commands reach the socket in the order they were scheduled.
   */
  command<T>(
    name: string,
    mode: CommandMode,
    fn: (client: JackdClient) => Promise<T>,
    timeoutMs: number = this.options.commandTimeoutMs,
  ): Promise<T> {
    if (this.closeReason) return Promise.reject(this.closeReason);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        mode,
        start: () => this.start(name, mode, fn, timeoutMs, resolve, reject),
      });
      this.pump();
    });
  }

  protected override failAll(reason: QueueError): void {
    this.client.socket.destroy();
    for (const fail of [...this.inFlight]) fail(reason);
    this.inFlight.clear();
    for (const task of this.waiting.splice(0)) task.start();
  }

  protected override isIdle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }

  protected override socketOf(): Socket {
    return this.client.socket;
  }

  /**
   * jackd writes each command with its own socket.write (a syscall each); holding the socket
   * until the end of this tick sends a burst of commands (a batch's puts and kicks, the
   * deletes after an outcome batch) in one writev.
   */
  private corkForThisTick(): void {
    if (this.corked) return;
    this.corked = true;
    const socket = this.client.socket;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  private pump(): void {
    while (this.waiting.length > 0 && !this.exclusiveActive && this.active < MAX_IN_FLIGHT) {
      const next = this.waiting[0]!;
      // A body-bearing reply must be the last one in flight (jackd swallows what follows it),
      // so nothing starts after an exclusive command until it is done; bodiless replies
      // before it are fine, which lets a worker's next reserve go out with its last delete.
      if (next.mode === 'exclusive') this.exclusiveActive = true;
      this.waiting.shift();
      this.active += 1;
      next.start();
    }
  }

  private start<T>(
    name: string,
    mode: CommandMode,
    fn: (client: JackdClient) => Promise<T>,
    timeoutMs: number,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
  ): void {
    if (this.closeReason) {
      reject(this.closeReason);
      return;
    }
    let settled = false;
    const settle = (action: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.inFlight.delete(failOnClose);
      this.active -= 1;
      if (mode === 'exclusive') this.exclusiveActive = false;
      action();
      this.pump();
    };
    // Past this point the command has gone out: a close or a timeout leaves it in doubt.
    const failOnClose = (error: QueueError) => settle(() => reject(error.inDoubtCopy()));
    this.inFlight.add(failOnClose);
    const timer = setTimeout(() => {
      const error = new QueueError(
        QueueErrorCode.TIMEOUT,
        `${name}: no answer from beanstalkd within ${timeoutMs} ms`,
        { inDoubt: true },
      );
      settle(() => reject(error));
      // A late reply would be matched to the next command: this connection is done.
      this.destroy(error);
    }, timeoutMs);
    let promise: Promise<T>;
    this.corkForThisTick();
    try {
      promise = fn(this.client);
    } catch (error: unknown) {
      settle(() => reject(normaliseQueueError(error, name)));
      return;
    }
    promise.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(normaliseQueueError(error, name))),
    );
  }
}
