/**
 * Holds one live connection and replaces it when it closes: every new connection is a new
 * jackd client (docs/facts.md, "jackd 2.2.2"), set up again by `setup` (use/watch/ignore are
 * per connection).
 */
import { BeanstalkConnection, type ConnectionOptions } from './connection.js';
import { QueueError, QueueErrorCode } from './errors.js';

export class ConnectionSlot {
  private current: BeanstalkConnection | undefined;
  private opening: Promise<BeanstalkConnection> | undefined;
  private closed = false;
  private readonly options: ConnectionOptions;
  private readonly setup: (connection: BeanstalkConnection) => Promise<void>;
  private readonly onLost: ((reason: QueueError) => void) | undefined;

  constructor(
    options: ConnectionOptions,
    setup: (connection: BeanstalkConnection) => Promise<void> = async () => {},
    onLost?: (reason: QueueError) => void,
  ) {
    this.options = options;
    this.setup = setup;
    this.onLost = onLost;
  }

  /** The open connection, opening a new one when there is none; rejects UNAVAILABLE fast. */
  get(): Promise<BeanstalkConnection> {
    if (this.current?.isOpen) return Promise.resolve(this.current);
    if (this.opening) return this.opening;
    this.opening = this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** The connection if one is open now, without opening one. */
  peekOpen(): BeanstalkConnection | undefined {
    return this.current?.isOpen ? this.current : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const opening = this.opening;
    if (opening) await opening.catch(() => undefined);
    await this.current?.close();
    this.current = undefined;
  }

  private async open(): Promise<BeanstalkConnection> {
    if (this.closed) throw new QueueError(QueueErrorCode.UNAVAILABLE, 'queue client is closed');
    const connection = await BeanstalkConnection.open(this.options);
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
