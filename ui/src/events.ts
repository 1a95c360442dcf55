/**
 * Following GET /events. The browser's EventSource cannot send headers, and a key must never go
 * in a URL, so the stream is read with fetch, which sends the same Authorization header as every
 * other call (and works as well when reads need no key). What EventSource does for itself is
 * done here: reconnecting with backoff, sending Last-Event-ID so a reconnect to the same manager
 * gets what it missed (a `reset` event says when it could not).
 */
import { ApiError, apiUrl, authHeaders, unauthorized } from './api';
import { EventStreamParser, type StreamEvent } from './sse-parser';

export type StreamState = 'connecting' | 'open' | 'retrying' | 'needs-key';

export interface FollowOptions {
  /** `?type=…`, `?id=…`: the API's filters. */
  query?: Record<string, string>;
  onEvent(event: StreamEvent): void;
  onState?(state: StreamState, detail?: string): void;
}

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((done) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      done();
    });
  });

/** Follows the stream until the returned function is called. */
export function followEvents(options: FollowOptions): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const query = new URLSearchParams(options.query ?? {}).toString();
  let lastEventId: string | undefined;
  let delayMs = 1000;

  const run = async () => {
    while (!signal.aborted) {
      options.onState?.('connecting');
      try {
        const response = await fetch(apiUrl(`events${query === '' ? '' : `?${query}`}`), {
          headers: {
            Accept: 'text/event-stream',
            ...authHeaders(),
            ...(lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId }),
          },
          cache: 'no-store',
          signal,
        });
        if (response.status === 401) {
          // The page asks for a key; whoever follows starts again once one is given.
          unauthorized();
          options.onState?.('needs-key');
          return;
        }
        if (!response.ok || response.body === null)
          throw new ApiError(response.status, `HTTP_${response.status}`, 'the event stream was refused');
        options.onState?.('open');
        delayMs = 1000;
        const parser = new EventStreamParser();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parser.push(value)) {
            if (event.id !== undefined) lastEventId = event.id;
            options.onEvent(event);
          }
        }
      } catch (error: unknown) {
        if (signal.aborted) return;
        options.onState?.('retrying', error instanceof Error ? error.message : String(error));
      }
      if (signal.aborted) return;
      options.onState?.('retrying');
      await wait(delayMs, signal);
      delayMs = Math.min(delayMs * 2, 30_000);
    }
  };
  void run();
  return () => controller.abort();
}
