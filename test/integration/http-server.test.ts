/**
 * The manager's HTTP server as start-manager builds it (createHttpServer around the real
 * app): its documented limits, and the connection cap under more connections than it allows.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { pino } from 'pino';
import { createHttpServer } from '../../src/manager/http/http-server.js';
import { type AppFixture, appFixture } from '../support/app-fixture.js';
import { waitFor } from '../support/harness.js';

/** A raw keep-alive connection that sends one request at a time and reads its whole answer. */
class RawClient {
  readonly socket = new Socket();
  private buffer = '';
  private waiting: (() => void) | undefined;
  closed = false;

  constructor(port: number) {
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      this.waiting?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    this.socket.on('error', () => undefined);
    this.socket.connect(port, '127.0.0.1');
  }

  /** Sends GET /healthz and resolves with the status line, or rejects if the server closes first. */
  healthz(timeoutMs = 3000): Promise<string> {
    this.buffer = '';
    this.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer in time')), timeoutMs);
      this.waiting = () => {
        const end = this.buffer.indexOf('\r\n\r\n');
        const length = /\r\ncontent-length: (\d+)/i.exec(this.buffer)?.[1];
        if (end >= 0 && length !== undefined && this.buffer.length >= end + 4 + Number(length)) {
          clearTimeout(timer);
          resolve(this.buffer.slice(0, this.buffer.indexOf('\r\n')));
        } else if (this.closed) {
          clearTimeout(timer);
          reject(new Error(`closed by the server; got ${JSON.stringify(this.buffer)}`));
        }
      };
    });
  }

  /** Resolves once the server has closed the connection, or rejects after `timeoutMs`. */
  async closedBy(timeoutMs: number): Promise<string> {
    await waitFor('the server to close the connection', () => this.closed, timeoutMs, 10);
    return this.buffer;
  }
}

describe('the manager HTTP server', function () {
  this.timeout(30_000);
  let f: AppFixture;
  let server: Server | undefined;
  const clients: RawClient[] = [];

  beforeEach(async () => {
    f = await appFixture({ label: 'httpserver' });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.socket.destroy();
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server?.close(r));
      server = undefined;
    }
    await f.close();
  });

  it('when built as the manager builds it, then its limits are the documented ones', () => {
    server = createHttpServer(f.app.callback(), { bodyTimeoutMs: 10_000, log: pino({ level: 'silent' }) });
    assert.equal(server.maxConnections, 1024);
    assert.equal(server.headersTimeout, 10_000);
    assert.equal(server.requestTimeout, 30_000);
    assert.equal(server.keepAliveTimeout, 5_000);
  });

  it('when more connections arrive than the cap, then the one beyond it is closed at once, the open ones keep working, and the cap is logged', async () => {
    const records: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => records.push(JSON.parse(line)) });
    server = createHttpServer(f.app.callback(), { bodyTimeoutMs: 10_000, maxConnections: 3, log });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;

    const open = [new RawClient(port), new RawClient(port), new RawClient(port)];
    clients.push(...open);
    for (const client of open) assert.equal(await client.healthz(), 'HTTP/1.1 200 OK');

    const extra = new RawClient(port);
    clients.push(extra);
    assert.equal(await extra.closedBy(2000), '', 'refused without an answer');

    for (const client of open) assert.equal(await client.healthz(), 'HTTP/1.1 200 OK', 'still served');
    assert.ok(
      records.some(
        (r) => r.msg === 'connection cap reached; new connections are closed' && r.maxConnections === 3,
      ),
      JSON.stringify(records),
    );

    open[0]?.socket.destroy();
    await waitFor(
      'the server to count the closed connection',
      () => new Promise<boolean>((r) => server?.getConnections((_, n) => r(n < 3))),
      2000,
      10,
    );
    const next = new RawClient(port);
    clients.push(next);
    assert.equal(await next.healthz(), 'HTTP/1.1 200 OK', 'a freed slot is usable again');
  });
});
