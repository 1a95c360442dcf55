/** A small server-sent-events client for tests and benches: connects, parses, records. */
import http from 'node:http';
import type request from 'supertest';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Every event so far, in order. */
  events: SseEvent[];
  /** Comment lines seen (heartbeats, the greeting). */
  comments: number;
  /** Resolves once the server ended the stream or the connection dropped. */
  ended: Promise<void>;
  /** The body when the answer was not a stream (an error). */
  body(): string;
  close(): void;
  /** Pauses reading (the client stops keeping up); the socket's buffers fill. */
  pause(): void;
  onEvent?: (event: SseEvent) => void;
}

/** Opens `url` as an event stream; resolves once the head of the answer came. */
export function openEvents(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } });
    req.on('error', reject);
    req.on('response', (res) => {
      let buffer = '';
      let raw = '';
      let endedResolve: () => void = () => undefined;
      const client: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        comments: 0,
        ended: new Promise<void>((done) => {
          endedResolve = done;
        }),
        body: () => raw,
        close: () => {
          req.destroy();
          res.destroy();
        },
        pause: () => res.pause(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += raw.length < 100_000 ? chunk : '';
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', data: '' };
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) client.comments += 1;
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              event.data = line.slice(6);
              any = true;
            }
          }
          if (any) {
            client.events.push(event);
            client.onEvent?.(event);
          }
        }
      });
      const finish = () => endedResolve();
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
      resolve(client);
    });
  });
}

/**
 * A supertest request to an event stream, read only up to its first chunk and then closed:
 * the stream itself never ends. `res.body` holds that text (an error's body, or the stream's
 * first lines).
 */
export function firstChunkOnly(test: request.Test): request.Test {
  return test.buffer(true).parse((res, callback) => {
    const stream = res as unknown as http.IncomingMessage;
    let done = false;
    let text = '';
    const finish = () => {
      if (done) return;
      done = true;
      callback(null, text);
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
      // JSON errors end by themselves; a stream is cut after its first lines.
      if (String(stream.headers['content-type']).startsWith('text/event-stream')) {
        finish();
        stream.destroy();
      }
    });
    stream.on('end', finish);
    stream.on('close', finish);
  });
}
