/**
 * One delivery attempt against a real HTTP server on loopback: what counts as delivered, no
 * redirect followed, timeouts, and the connect-time address check with an injected resolver
 * (a name that resolves to 127.0.0.1 stands in for DNS rebinding; no real DNS is used).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deliver, type Resolver } from '../../../src/webhooks/deliver.js';

interface Received {
  method: string;
  url: string;
  host: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function startServer(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        host: req.headers.host ?? '',
        headers: req.headers,
        body,
      });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const OPTIONS = { connectTimeoutMs: 1000, responseTimeoutMs: 1000, allowPrivate: true };
const HEADERS = { 'Content-Type': 'application/json', 'X-DW-Delivery': 'd-1' };
/** Every name resolves to loopback, as a rebinding attacker's DNS would answer. */
const toLoopback: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];

describe('one webhook delivery attempt', function () {
  this.timeout(10_000);
  const servers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('when the receiver answers 2xx, then the attempt is delivered with its status, and the receiver got the body and headers', async () => {
    const server = await startServer((_req, res) => res.writeHead(204).end());
    servers.push(server);
    const result = await deliver(`http://127.0.0.1:${server.port}/hook?t=1`, '{"id":"x"}', HEADERS, OPTIONS);
    assert.equal(result.delivered, true);
    assert.equal(result.status, 204);
    assert.equal(server.received.length, 1);
    const [got] = server.received;
    assert.equal(got?.method, 'POST');
    assert.equal(got?.url, '/hook?t=1');
    assert.equal(got?.body, '{"id":"x"}');
    assert.equal(got?.headers['x-dw-delivery'], 'd-1');
    assert.equal(got?.headers['content-length'], '10');
  });

  it('when the receiver answers 500 or redirects, then it is not delivered, and the redirect is not followed', async () => {
    const target = await startServer((_req, res) => res.writeHead(200).end());
    servers.push(target);
    const server = await startServer((req, res) => {
      if (req.url === '/fail') res.writeHead(500).end('no');
      else res.writeHead(302, { Location: `http://127.0.0.1:${target.port}/` }).end();
    });
    servers.push(server);
    const failed = await deliver(`http://127.0.0.1:${server.port}/fail`, '{}', HEADERS, OPTIONS);
    assert.deepEqual([failed.delivered, failed.status], [false, 500]);
    const moved = await deliver(`http://127.0.0.1:${server.port}/moved`, '{}', HEADERS, OPTIONS);
    assert.deepEqual([moved.delivered, moved.status], [false, 302]);
    assert.equal(target.received.length, 0, 'the redirect target was never asked');
  });

  it('when a host name resolves to a loopback address at delivery time, then the attempt is refused before connecting (private_address)', async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end());
    servers.push(server);
    const url = `http://hooks.example.test:${server.port}/hook`;
    const refused = await deliver(url, '{}', HEADERS, {
      ...OPTIONS,
      allowPrivate: false,
      resolve: toLoopback,
    });
    assert.deepEqual([refused.delivered, refused.status], [false, 'private_address']);
    assert.equal(server.received.length, 0, 'nothing reached the loopback server');
    // The same name with private addresses allowed: the address our lookup answered is the one connected to.
    const allowed = await deliver(url, '{}', HEADERS, { ...OPTIONS, resolve: toLoopback });
    assert.deepEqual([allowed.delivered, allowed.status], [true, 200]);
    assert.equal(server.received[0]?.host, `hooks.example.test:${server.port}`);
  });

  it('when a name resolves to a public and a private address, then the attempt is refused', async () => {
    const mixed: Resolver = async () => [
      { address: '8.8.8.8', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    const result = await deliver('http://mixed.example.test/hook', '{}', HEADERS, {
      ...OPTIONS,
      allowPrivate: false,
      resolve: mixed,
    });
    assert.deepEqual([result.delivered, result.status], [false, 'private_address']);
  });

  it('when the URL is a private literal, then no connection is tried (private_address); a bad URL is invalid_url', async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end());
    servers.push(server);
    const literal = await deliver(`http://127.0.0.1:${server.port}/`, '{}', HEADERS, {
      ...OPTIONS,
      allowPrivate: false,
    });
    assert.equal(literal.status, 'private_address');
    assert.equal(server.received.length, 0);
    assert.equal((await deliver('ftp://example.com/', '{}', HEADERS, OPTIONS)).status, 'invalid_url');
  });

  it('when nothing listens, then refused; when the receiver never answers, then timeout; when the lookup hangs, then connect_timeout', async () => {
    const closed = await startServer(() => undefined);
    const port = closed.port;
    await closed.close();
    assert.equal((await deliver(`http://127.0.0.1:${port}/`, '{}', HEADERS, OPTIONS)).status, 'refused');

    const silent = await startServer(() => undefined);
    servers.push(silent);
    const started = Date.now();
    const slow = await deliver(`http://127.0.0.1:${silent.port}/`, '{}', HEADERS, {
      ...OPTIONS,
      responseTimeoutMs: 300,
    });
    assert.equal(slow.status, 'timeout');
    assert.ok(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`);

    const hanging: Resolver = () => new Promise(() => undefined);
    const stuck = await deliver('http://hang.example.test/', '{}', HEADERS, {
      ...OPTIONS,
      connectTimeoutMs: 300,
      resolve: hanging,
    });
    assert.equal(stuck.status, 'connect_timeout');
  });

  it('when the receiver answers 200 with a huge body, then the attempt is delivered without reading it all', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      // 64 MiB, written as fast as it drains; the client stops after 64 KiB.
      let left = 1024;
      const pump = () => {
        while (left > 0) {
          left -= 1;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    });
    servers.push(server);
    const result = await deliver(`http://127.0.0.1:${server.port}/`, '{}', HEADERS, {
      ...OPTIONS,
      responseTimeoutMs: 5000,
    });
    assert.deepEqual([result.delivered, result.status], [true, 200]);
    assert.ok(result.durationMs < 3000, `took ${result.durationMs} ms`);
  });
});
