/**
 * A spawned manager with API keys under hostile traffic: what Node answers before Koa,
 * keys never in the logs, and a fuzz run of 10,000 random requests with no 5xx and no hang.
 */
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import fc from 'fast-check';
import { freePort, waitForPort } from '../../src/local/servers.js';
import {
  backendEnv,
  dropDatabase,
  isolation,
  type SpawnedCli,
  spawnCli,
  stopAllSpawned,
} from '../support/harness.js';

const KEY = 'fuzz-key-5f3a9c1e7b2d4a60';
const WRONG = 'fuzz-key-00000000000000000';

/** Sends raw bytes and returns what comes back until the server closes (or 3 s). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let text = '';
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(text);
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.connect(port, '127.0.0.1', () => socket.write(bytes));
  });
}

describe('hostile traffic against a spawned manager', function () {
  this.timeout(180_000);
  let manager: SpawnedCli;
  let port: number;
  let dbName: string;

  before(async () => {
    const iso = isolation('hostile');
    dbName = iso.dbName;
    port = await freePort();
    manager = spawnCli(['manager'], {
      ...backendEnv(iso),
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      API_KEYS: `fuzzer:${KEY}`,
      LOG_LEVEL: 'debug',
      BODY_TIMEOUT_MS: '1000',
    });
    await waitForPort(port, 15_000, manager.child);
  });
  after(async () => {
    await stopAllSpawned();
    await dropDatabase(dbName);
  });

  it('when headers are too large or the request line is garbage, then Node-level errors are JSON with stable codes too', async () => {
    const big = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    assert.match(big, /"code":"HEADERS_TOO_LARGE"/);
    const garbage = await raw(port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.match(garbage, /"code":"BAD_REQUEST"/);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(ok.status, 200, 'still healthy');
  });

  it('when 10,000 random requests arrive, then none gets a 5xx or hangs, and keys never reach the logs', async () => {
    const methods = fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD');
    const idLike = fc.oneof(
      fc.uuid({ version: 7 }),
      fc.uuid(),
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('%0d%0a', '%00', '..%2f..%2fetc', '%E2%80%AE', 'јobs', '1'.repeat(300)),
    );
    const paths = fc.oneof(
      fc.constant('/'),
      fc.constant('/jobs'),
      idLike.map((id) => `/jobs/${encodeURIComponent(id)}`),
      idLike.map((id) => `/${encodeURIComponent(id)}`),
      idLike.map((id) => `/jobs/${encodeURIComponent(id)}/retry`),
      fc.constantFrom('/healthz', '/readyz', '/jobs/', '/jobs//retry', '/%', '/jobs?x=%0d%0a'),
    );
    const bodies = fc.oneof(
      fc.json({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom('', '{', '[]', '{"a":1}', '\uFEFF{}', `${'['.repeat(200)}${']'.repeat(200)}`),
    );
    const contentTypes = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      '',
    );
    // Mostly the right key, so that most requests get past authentication to the parsers.
    const auths = fc.oneof(
      { arbitrary: fc.constant(`Bearer ${KEY}`), weight: 8 },
      { arbitrary: fc.constantFrom(`Bearer ${WRONG}`, '', 'Bearer', `Basic ${KEY}`), weight: 2 },
    );
    const requests = fc.record({
      method: methods,
      path: paths,
      body: bodies,
      contentType: contentTypes,
      auth: auths,
    });
    const samples = fc.sample(requests, { numRuns: 10_000, seed: 20261123 });
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < samples.length) {
          const r = samples[next++]!;
          const headers: Record<string, string> = {};
          if (r.contentType) headers['Content-Type'] = r.contentType;
          if (r.auth) headers.Authorization = r.auth;
          const hasBody = !['GET', 'HEAD', 'OPTIONS'].includes(r.method);
          try {
            const res = await fetch(`http://127.0.0.1:${port}${r.path}`, {
              method: r.method,
              headers,
              ...(hasBody ? { body: r.body } : {}),
              signal: AbortSignal.timeout(5000),
            });
            await res.arrayBuffer();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            if (res.status >= 500) bad.push(`${res.status} ${r.method} ${r.path}`);
          } catch (error: unknown) {
            // fetch itself refuses some inputs (invalid URLs or headers): those never left the client.
            if (error instanceof TypeError && !/fetch failed/.test(String(error.message))) continue;
            bad.push(`${r.method} ${r.path}: ${String(error)}`);
          }
        }
      }),
    );
    const sent = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} requests got a 5xx or no answer`);
    assert.ok(sent >= 9_000, `${sent} requests were answered`);
    assert.ok(
      (statuses.get(202) ?? 0) > 0 && (statuses.get(401) ?? 0) > 0,
      `a mix of answers: ${JSON.stringify([...statuses])}`,
    );
    const elapsed = (Date.now() - started) / 1000;
    assert.ok(elapsed < 150, `${elapsed} s`);
    const logs = manager.lines.join('\n');
    assert.ok(!logs.includes(KEY) && !logs.includes(WRONG), 'no key appears in the logs');
    assert.ok(!/authorization/i.test(logs), 'no Authorization header in the logs');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
  });
});
