/**
 * The event stream's hub (GET /events, docs/completion-design.md): one subscription to the
 * completion follower for all of this manager's streams, each event numbered and kept in a
 * bounded window for `Last-Event-ID`, and handed to every stream whose filter it passes.
 *
 * Event ids are `<epoch>-<n>`: `n` counts the events this manager relayed since it began
 * following (the epoch, random). The follower keeps following for `lingerMs` after the last
 * stream closes, so a client that reconnects within that time, and within the window, misses
 * nothing; otherwise it is told to `reset` (read the current state) and goes on live.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { CompletionFollower, FollowedEvent, NoticeListener } from '../jobs/completion-follower.js';

/** What a stream wants: every given field must match (an absent one matches all). */
export interface EventFilter {
  type?: string;
  group?: string;
  id?: string;
}

/** Where a stream's events go. */
export interface EventSink {
  event(id: string, event: FollowedEvent): void;
  /** Some events could not be given (outside the window, or passed over): read the current state. */
  reset(reason: string): void;
  /** The hub closes (the manager stops): end the stream. */
  close(): void;
}

export interface EventHubOptions {
  follower: Pick<CompletionFollower, 'subscribe'>;
  log: Logger;
  /** Events kept for `Last-Event-ID`. */
  window: number;
  /** Most streams at once. */
  maxStreams: number;
  /** How long following goes on after the last stream closed. */
  lingerMs: number;
}

interface Stream {
  filter: EventFilter;
  sink: EventSink;
}

/** Whether `event` passes `filter`. */
export function matches(filter: EventFilter, event: FollowedEvent): boolean {
  return (
    (filter.id === undefined || filter.id === event.id) &&
    (filter.type === undefined || filter.type === event.type) &&
    (filter.group === undefined || filter.group === event.group)
  );
}

export class EventHub {
  private readonly options: EventHubOptions;
  private readonly streams = new Set<Stream>();
  /** The window: the last `options.window` events, oldest first, numbered `first` onwards. */
  private ring: FollowedEvent[] = [];
  private first = 1;
  private epoch = '';
  private unsubscribe: (() => void) | undefined;
  private subscribing: Promise<void> | undefined;
  private linger: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: EventHubOptions) {
    this.options = options;
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /** Whether another stream would pass MAX_EVENT_STREAMS. */
  get full(): boolean {
    return this.streams.size >= this.options.maxStreams;
  }

  /**
   * Opens a stream: first what it missed since `lastEventId` (or a reset when that is outside
   * the window), then every event as it comes. Rejects when the store does not answer.
   */
  async open(filter: EventFilter, sink: EventSink, lastEventId?: string): Promise<() => void> {
    if (this.closed) throw new Error('the event hub is closed');
    const stream: Stream = { filter, sink };
    clearTimeout(this.linger);
    this.linger = undefined;
    await this.follow();
    if (lastEventId !== undefined) this.replay(stream, lastEventId);
    this.streams.add(stream);
    return () => {
      if (!this.streams.delete(stream) || this.streams.size > 0 || this.closed) return;
      this.linger = setTimeout(() => this.stopFollowing(), this.options.lingerMs);
      this.linger.unref();
    };
  }

  /** Ends every stream and stops following (the manager stops). */
  close(): void {
    this.closed = true;
    clearTimeout(this.linger);
    const streams = [...this.streams];
    this.streams.clear();
    for (const stream of streams) stream.sink.close();
    this.stopFollowing();
  }

  private follow(): Promise<void> {
    if (this.unsubscribe) return Promise.resolve();
    this.subscribing ??= (async () => {
      try {
        const listener: NoticeListener = {
          events: (batch) => {
            for (const event of batch) this.relay(event);
          },
          gap: () => this.resetAll('some events were passed over: read the current state'),
        };
        const unsubscribe = await this.options.follower.subscribe(listener);
        if (this.closed) {
          unsubscribe();
          return;
        }
        this.unsubscribe = unsubscribe;
        // A new spell of following: ids from an earlier one cannot resume here.
        this.epoch = randomBytes(4).toString('hex');
        this.ring = [];
        this.first = 1;
      } finally {
        this.subscribing = undefined;
      }
    })();
    return this.subscribing;
  }

  private stopFollowing(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.linger = undefined;
  }

  private relay(event: FollowedEvent): void {
    const n = this.first + this.ring.length;
    this.ring.push(event);
    if (this.ring.length > this.options.window) {
      // Dropped in chunks, not one by one: shifting a large array per event is quadratic.
      const drop = Math.max(1, Math.floor(this.options.window / 8));
      this.ring.splice(0, drop);
      this.first += drop;
    }
    const id = `${this.epoch}-${n}`;
    for (const stream of this.streams) if (matches(stream.filter, event)) stream.sink.event(id, event);
  }

  private replay(stream: Stream, lastEventId: string): void {
    const match = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId);
    const n = match ? Number(match[2]) : Number.NaN;
    if (!match || match[1] !== this.epoch || n < this.first - 1 || n >= this.first + this.ring.length) {
      stream.sink.reset(
        match && match[1] === this.epoch
          ? 'Last-Event-ID is outside the event window: read the current state'
          : 'Last-Event-ID is from another manager or an earlier run: read the current state',
      );
      return;
    }
    for (let i = n + 1 - this.first; i < this.ring.length; i += 1) {
      const event = this.ring[i];
      if (event && matches(stream.filter, event)) stream.sink.event(`${this.epoch}-${this.first + i}`, event);
    }
  }

  private resetAll(reason: string): void {
    this.options.log.warn('the event stream passed over some events (it fell a ring of notices behind)');
    for (const stream of this.streams) stream.sink.reset(reason);
  }
}
