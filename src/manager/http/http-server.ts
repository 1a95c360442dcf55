/**
 * The manager's HTTP server: the limits Node enforces before Koa sees a request (header
 * size, how long headers and requests may take, idle keep-alive, a connection cap), and the
 * request-line and Host checks Node leaves out. Every refusal is the JSON error shape.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { ErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';

export const MAX_HEADER_BYTES = 16_384;
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** Advertised in `Keep-Alive: timeout=5`; Node 20 closes the idle socket a second after it. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface HttpServerOptions {
  /** BODY_TIMEOUT_MS: headers must arrive within this, and a whole request within three times it. */
  bodyTimeoutMs: number;
  /** Connections open at once; the next one is closed as soon as it is accepted. */
  maxConnections?: number;
  log: Logger;
}

/** A host, IPv4 address or [IPv6] literal with an optional port (RFC 9110 §7.2, RFC 3986 §3.2.2). */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[\w.~!$&'()*+,;=%-]*)(?::\d*)?$/;

/** Why Node's parse of this request must not reach the app, or undefined when it may. */
function badRequestReason(req: IncomingMessage): string | undefined {
  // llhttp takes a request line without a version as HTTP/0.9 and accepts HTTP/2.0 on the
  // HTTP/1 parser: only HTTP/1.0 and HTTP/1.1 are spoken here.
  if (req.httpVersionMajor !== 1) return 'the request line must end with HTTP/1.1 or HTTP/1.0';
  const hosts: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === 'host') hosts.push(req.rawHeaders[i + 1] ?? '');
  }
  // RFC 9112 §3.2: more than one Host, a bad one, or none in HTTP/1.1 is a 400.
  if (hosts.length > 1) return 'more than one Host header';
  const [host] = hosts;
  if (host === undefined)
    return req.httpVersionMinor >= 1 ? 'an HTTP/1.1 request needs a Host header' : undefined;
  return HOST.test(host) ? undefined : 'the Host header is not a host[:port]';
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

function refuse(res: ServerResponse, message: string): void {
  const body = errorBody(ErrorCode.BAD_REQUEST, message);
  res.writeHead(400, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}

/** Creates (does not start) the HTTP server that serves `listener` within the manager's limits. */
export function createHttpServer(listener: RequestListener, options: HttpServerOptions): Server {
  const headersTimeoutMs = options.bodyTimeoutMs;
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      // Checked in badRequestReason, so that a missing Host gets the JSON error too.
      requireHostHeader: false,
      // Node enforces headersTimeout and requestTimeout only when it sweeps its connections,
      // every 30 s by default: a 10 s bound was cut at 10 to 40 s. Sweep often enough that
      // the bounds hold within a quarter of themselves, at most a second late.
      connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(headersTimeoutMs / 4))),
    },
    (req, res) => {
      const reason = badRequestReason(req);
      if (reason === undefined) listener(req, res);
      else refuse(res, reason);
    },
  );
  server.headersTimeout = headersTimeoutMs;
  // Headers, then the body within BODY_TIMEOUT_MS of being read (the app answers 408 itself),
  // with as much again for what runs in between: Node's own cut is the backstop.
  server.requestTimeout = 3 * options.bodyTimeoutMs;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;

  // Node answers malformed requests, oversized headers and timeouts before any listener, with
  // a bare status line: give those a JSON error with a stable code too.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const [status, code, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, ErrorCode.HEADERS_TOO_LARGE, 'request headers larger than 16 KB']
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, ErrorCode.REQUEST_TIMEOUT, 'the request did not arrive in time']
          : [400, ErrorCode.BAD_REQUEST, 'malformed HTTP request'];
    const body = errorBody(code, message);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  // A flood of refused connections is one warning a minute, not one line each.
  let dropped = 0;
  let warnedAt = Number.NEGATIVE_INFINITY;
  server.on('drop', () => {
    dropped += 1;
    if (Date.now() - warnedAt < 60_000) return;
    options.log.warn(
      { maxConnections: server.maxConnections, dropped },
      'connection cap reached; new connections are closed',
    );
    warnedAt = Date.now();
    dropped = 0;
  });
  return server;
}
