/**
 * A webhook receiver for tests, written as a receiver would be, independent of the code under
 * test: it checks each request's signature with the shared secret (401 when it does not
 * match), records every request, and answers what the test decides — a status, or `hold` to
 * keep the request open until the test answers it. A 2xx counts as a success only if the
 * client was still connected when it was answered.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  deliveryId: string;
  /** 1 for the first request carrying this delivery id, 2 for the next, … */
  nth: number;
  signatureOk: boolean;
  timestamp: number;
  headers: IncomingMessage['headers'];
  path: string;
  body: string;
  /** The body parsed (null when it is not JSON). */
  event: Record<string, unknown> | null;
  /** What it was answered; undefined while held. */
  status?: number;
  /** True when the client went away before the answer was written (set as soon as it goes). */
  clientGone?: boolean;
}

export type Decision = number | 'hold';

export interface WebhookReceiver {
  port: number;
  url(path?: string): string;
  requests: ReceivedRequest[];
  /** Requests carrying this delivery id, oldest first. */
  of(deliveryId: string): ReceivedRequest[];
  /** 2xx answers written to a client still connected, for this delivery id. */
  successes(deliveryId: string): number;
  /** Requests held open right now. */
  held(): ReceivedRequest[];
  /** Answers every held request with `status`. */
  answerHeld(status: number): void;
  close(): Promise<void>;
}

/** The signature as a receiver checks it: constant-time compare, timestamp within 5 minutes. */
export function signatureValid(secret: string, headers: IncomingMessage['headers'], body: string): boolean {
  const timestamp = Number(headers['x-dw-timestamp']);
  const given = headers['x-dw-signature'];
  if (!Number.isInteger(timestamp) || typeof given !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - timestamp) > 300) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

export async function startWebhookReceiver(
  secret: string,
  decide: (request: ReceivedRequest) => Decision,
): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const holding = new Map<ReceivedRequest, (status: number) => void>();
  const answer = (request: ReceivedRequest, req: IncomingMessage, res: ServerResponse, status: number) => {
    if (request.clientGone || req.socket.destroyed || res.writableEnded || res.destroyed) {
      request.clientGone = true;
      request.status = status;
      return;
    }
    request.status = status;
    res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const deliveryId = String(req.headers['x-dw-delivery'] ?? '');
      let event: Record<string, unknown> | null = null;
      try {
        event = JSON.parse(body) as Record<string, unknown>;
      } catch {
        event = null;
      }
      const request: ReceivedRequest = {
        deliveryId,
        nth: requests.filter((r) => r.deliveryId === deliveryId).length + 1,
        signatureOk: signatureValid(secret, req.headers, body),
        timestamp: Number(req.headers['x-dw-timestamp']),
        headers: req.headers,
        path: req.url ?? '',
        body,
        event,
      };
      requests.push(request);
      // A client that goes away before its answer: noted at once, so a test can wait for it.
      req.socket.once('close', () => {
        if (request.status === undefined) request.clientGone = true;
      });
      if (!request.signatureOk) {
        answer(request, req, res, 401);
        return;
      }
      const decision = decide(request);
      if (decision !== 'hold') {
        answer(request, req, res, decision);
        return;
      }
      holding.set(request, (status) => answer(request, req, res, status));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    requests,
    of: (deliveryId) => requests.filter((r) => r.deliveryId === deliveryId),
    successes: (deliveryId) =>
      requests.filter(
        (r) =>
          r.deliveryId === deliveryId &&
          r.status !== undefined &&
          r.status >= 200 &&
          r.status < 300 &&
          !r.clientGone,
      ).length,
    held: () => [...holding.keys()],
    answerHeld(status) {
      for (const [request, respond] of [...holding]) {
        holding.delete(request);
        respond(status);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
