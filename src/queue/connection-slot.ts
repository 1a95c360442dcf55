/**
 * Holds one live connection and replaces it when it closes: a closed connection is never
 * reused (a jackd client desyncs if connected twice, docs/facts.md "jackd 2.2.2"), and every
 * new one is set up again by `setup` (use/watch/ignore are per connection).
 */
import { BeanstalkConnection, type ConnectionOptions } from './connection.js';
import { QueueError, QueueErrorCode } from './errors.js';

/** What a slot needs of a connection: jackd's (connection.ts) or our own wire (wire-connection.ts). */
export interface SlotConnection {
  readonly isOpen: boolean;
  onClose(listener: (reason: QueueError) => void): void;
  destroy(reason?: QueueError): void;
  close(): Promise<void>;
}

export class ConnectionSlot<C extends SlotConnection = BeanstalkConnection> {
  private current: C | undefined;
  private opening: Promise<C> | undefined;
  private closed = false;
  private readonly options: ConnectionOptions;
  private readonly setup: (connection: C) => Promise<void>;
  private readonly onLost: ((reason: QueueError) => void) | undefined;
  private readonly connect: (options: ConnectionOptions) => Promise<C>;

  constructor(
    options: ConnectionOptions,
    setup: (connection: C) => Promise<void> = async () => {},
    onLost?: (reason: QueueError) => void,
    // C is BeanstalkConnection unless an opener of another kind is given.
    connect: (options: ConnectionOptions) => Promise<C> = BeanstalkConnection.open as unknown as (
      options: ConnectionOptions,
    ) => Promise<C>,
  ) {
    this.options = options;
    this.setup = setup;
    this.onLost = onLost;
    this.connect = connect;
  }

  /** The open connection, opening a new one when there is none; rejects UNAVAILABLE fast. */
  get(): Promise<C> {
    if (this.current?.isOpen) return Promise.resolve(this.current);
    if (this.opening) return this.opening;
    this.opening = this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** The connection if one is open now, without opening one. */
  peekOpen(): C | undefined {
    return this.current?.isOpen ? this.current : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const opening = this.opening;
    if (opening) await opening.catch(() => undefined);
    await this.current?.close();
    this.current = undefined;
  }

  private async open(): Promise<C> {
    if (this.closed) throw new QueueError(QueueErrorCode.UNAVAILABLE, 'queue client is closed');
    const connection = await this.connect(this.options);
    try {
      await this.setup(connection);
    } catch (error: unknown) {
      connection.destroy();
      throw error;
    }
    if (this.closed) {
      await connection.close();
      throw new QueueError(QueueErrorCode.UNAVAILABLE, 'queue client is closed');
    }
    connection.onClose((reason) => {
      if (this.current === connection) this.current = undefined;
      if (!this.closed) this.onLost?.(reason);
    });
    this.current = connection;
    return connection;
  }
}
