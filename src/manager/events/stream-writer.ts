/**
 * Writes one event stream's text to its HTTP response: what a turn of the event loop sends
 * goes out in one write, and a client that does not read is dropped, never buffered without
 * bound — when the unsent bytes (Node's buffer of the response; what the kernel holds is not
 * counted) stay above the bound for `slowMs`, or pass HARD_FACTOR times it at any moment. A
 * burst (a big batch accepted at once) may pass the bound without dropping a client that reads.
 */
import type { ServerResponse } from 'node:http';

/** A stream whose unsent bytes stay past the bound this long is dropped. */
export const SLOW_MS = 5000;
/** A stream whose unsent bytes pass this many times the bound is dropped at once. */
export const HARD_FACTOR = 8;

export interface StreamWriterOptions {
  maxBufferBytes: number;
  slowMs?: number;
  /** Told once when the stream is dropped for being slow (the response is destroyed after). */
  onDrop: (unsentBytes: number) => void;
}

export class StreamWriter {
  private readonly res: ServerResponse;
  private readonly options: StreamWriterOptions;
  private readonly slowMs: number;
  private queued = '';
  private behindSince: number | undefined;
  private readonly check: NodeJS.Timeout;
  private open = true;

  constructor(res: ServerResponse, options: StreamWriterOptions) {
    this.res = res;
    this.options = options;
    this.slowMs = options.slowMs ?? SLOW_MS;
    res.on('drain', () => {
      this.behindSince = undefined;
    });
    // A client that stopped reading while nothing more is sent is dropped all the same.
    this.check = setInterval(() => this.checkBehind(), Math.max(50, Math.floor(this.slowMs / 4)));
    this.check.unref();
  }

  /** Queues `text` for this turn's write. */
  write(text: string): void {
    if (!this.open) return;
    if (this.queued === '') setImmediate(() => this.flush());
    this.queued += text;
  }

  /** Stops writing (the stream ended); queued text is dropped. */
  stop(): void {
    this.open = false;
    this.queued = '';
    clearInterval(this.check);
  }

  private flush(): void {
    const text = this.queued;
    this.queued = '';
    if (!this.open || text === '') return;
    this.res.write(text);
    const unsent = this.res.writableLength;
    if (unsent <= this.options.maxBufferBytes) return;
    this.behindSince ??= Date.now();
    if (unsent > HARD_FACTOR * this.options.maxBufferBytes || Date.now() - this.behindSince > this.slowMs)
      this.drop();
  }

  private checkBehind(): void {
    if (this.res.writableLength <= this.options.maxBufferBytes) this.behindSince = undefined;
    else if (this.behindSince !== undefined && Date.now() - this.behindSince > this.slowMs) this.drop();
  }

  private drop(): void {
    if (!this.open) return;
    const unsent = this.res.writableLength;
    this.stop();
    this.options.onDrop(unsent);
    this.res.destroy();
  }
}
