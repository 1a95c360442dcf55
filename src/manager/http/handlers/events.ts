/**
 * `GET /events`: server-sent events (text/event-stream) of jobs accepted, started, making
 * progress and ending, filtered by `type`, `group` or `id` (manager/events/event-hub.ts).
 * A comment line every heartbeat keeps proxies from closing an idle stream; a client that
 * does not read is dropped (manager/events/stream-writer.ts), never buffered without bound.
 */
import type { Context } from 'koa';
import { AppError, ErrorCode } from '../../../errors.js';
import { JOB_TYPE } from '../../../handlers/index.js';
import { parseJobId } from '../../../jobs/job-id.js';
import type { Logger } from '../../../log.js';
import type { EventFilter, EventHub } from '../../events/event-hub.js';
import { StreamWriter } from '../../events/stream-writer.js';
import type { FollowedEvent } from '../../jobs/completion-follower.js';

export interface EventHandlerDeps {
  hub: EventHub;
  log: Logger;
  /** A comment line this often. */
  heartbeatMs: number;
  /** A stream whose unsent bytes pass this is closed. */
  maxBufferBytes: number;
  /** Told when a slow stream is dropped (metrics). */
  onDropped?: () => void;
  /** How long a stream may stay past maxBufferBytes (default: stream-writer.ts, SLOW_MS). */
  slowMs?: number;
}

/** How soon a client's EventSource reconnects after the stream ends, in ms. */
const RETRY_MS = 2000;

function one(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new AppError(ErrorCode.INVALID_QUERY, `${name} must be given once, not empty`);
  return value;
}

/** The stream's filter from the query; anything else in it is INVALID_QUERY. */
export function parseEventFilter(ctx: Context): EventFilter {
  for (const name of Object.keys(ctx.query))
    if (!['type', 'group', 'id'].includes(name))
      throw new AppError(ErrorCode.INVALID_QUERY, `unknown query parameter ${name}; use type, group or id`);
  const filter: EventFilter = {};
  const type = one(ctx, 'type');
  if (type !== undefined) {
    if (!JOB_TYPE.test(type))
      throw new AppError(ErrorCode.INVALID_QUERY, `type ${JSON.stringify(type)} is not a job type name`);
    filter.type = type;
  }
  for (const name of ['group', 'id'] as const) {
    const value = one(ctx, name);
    if (value === undefined) continue;
    const id = parseJobId(value);
    if (id === null)
      throw new AppError(ErrorCode.INVALID_QUERY, `${name} must be a UUIDv7 (a job or group id)`);
    filter[name] = id;
  }
  return filter;
}

/** The last event framed, and its frame: the hub hands one event to every stream in a row. */
let framed: { id: string; event: FollowedEvent; frame: string } | undefined;

/** An event as sent: its id, name, and `data:` line (the job and what happened, as JSON); built once per event. */
function frameOf(id: string, event: FollowedEvent): string {
  if (framed?.event === event && framed.id === id) return framed.frame;
  const frame = `id: ${id}\nevent: ${event.kind}\ndata: ${eventData(event)}\n\n`;
  framed = { id, event, frame };
  return frame;
}

function eventData(event: FollowedEvent): string {
  return JSON.stringify({
    id: event.id,
    state: event.kind,
    at: event.at,
    ...(event.type !== undefined ? { type: event.type } : {}),
    ...(event.group !== undefined ? { group: event.group } : {}),
    ...(event.attempt !== undefined ? { attempt: event.attempt } : {}),
    ...(event.percent !== undefined ? { percent: event.percent } : {}),
    ...(event.data !== undefined ? { data: event.data } : {}),
  });
}

export function eventHandlers(deps: EventHandlerDeps) {
  return {
    streamEvents: async (ctx: Context) => {
      const filter = parseEventFilter(ctx);
      if (deps.hub.full)
        throw new AppError(ErrorCode.TOO_MANY_STREAMS, 'too many event streams are open; try again', {
          headers: { 'Retry-After': '5' },
        });
      if (ctx.method === 'HEAD') {
        // The head a stream would have, and no stream.
        ctx.status = 200;
        ctx.type = 'text/event-stream';
        ctx.set('Cache-Control', 'no-store');
        return;
      }
      const lastEventId = ctx.get('Last-Event-ID') || undefined;
      const res = ctx.res;
      const socket = ctx.req.socket;
      let heartbeat: NodeJS.Timeout | undefined;
      let close: () => void = () => undefined;
      let writer: StreamWriter | undefined;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        writer?.stop();
        close();
      };
      // Events that come while the stream opens wait for its head.
      const early: string[] = [];
      const send = (text: string) => (writer ? writer.write(text) : early.push(text));
      close = await deps.hub.open(
        filter,
        {
          event: (id, event) => send(frameOf(id, event)),
          reset: (reason) => send(`event: reset\ndata: ${JSON.stringify({ reason })}\n\n`),
          close: () => {
            end();
            res.end();
          },
        },
        lastEventId,
      );
      if (socket.destroyed || ended) {
        end();
        return;
      }
      // Answered here, not by Koa; the status is set for the HTTP metrics.
      ctx.status = 200;
      ctx.respond = false;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
      });
      res.on('close', end);
      writer = new StreamWriter(res, {
        maxBufferBytes: deps.maxBufferBytes,
        ...(deps.slowMs !== undefined ? { slowMs: deps.slowMs } : {}),
        onDrop: (unsentBytes) => {
          deps.log.info({ unsentBytes }, 'event stream dropped: the client does not keep up');
          deps.onDropped?.();
          end();
        },
      });
      writer.write(`retry: ${RETRY_MS}\n: connected\n\n`);
      for (const text of early.splice(0)) writer.write(text);
      const beat = writer;
      heartbeat = setInterval(() => beat.write(': heartbeat\n\n'), deps.heartbeatMs);
      heartbeat.unref();
    },
  };
}
