/**
 * API keys, rate limit, CORS, security headers and hostile input, through createApp on the
 * real servers. Every refused request must leave nothing in MongoDB or beanstalkd.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { newJobId } from '../../src/jobs/job-id.js';
import { ROUTES, type RouteSpec } from '../../src/manager/http/routes/routes.js';
import { matchApiKey, type SecurityOptions } from '../../src/manager/http/security.js';
import { COLLECTIONS } from '../../src/store/collections.js';
import { type AppFixture, appFixture } from '../support/app-fixture.js';
import { backends, beanstalkRaw, tubeCounts, waitFor, withMongo } from '../support/harness.js';
import { firstChunkOnly } from '../support/sse-client.js';

const KEYS = [
  { name: 'ci', key: 'ci-key-0123456789abcdef' },
  { name: 'ops', key: 'ops-key-0123456789abcdef' },
];

async function stored(dbName: string) {
  return withMongo(dbName, async (db) => ({
    jobs: await db.collection('jobs').countDocuments(),
    results: await db.collection('results').countDocuments(),
  }));
}

/** Documents in every collection the store owns. */
async function storedEverywhere(dbName: string): Promise<Record<string, number>> {
  return withMongo(dbName, async (db) => {
    const counts: Record<string, number> = {};
    for (const name of Object.values(COLLECTIONS)) counts[name] = await db.collection(name).countDocuments();
    return counts;
  });
}

/** Every tube under `prefix` with what it holds, has held and whether it is paused. */
async function tubesUnder(port: number, prefix: string): Promise<Record<string, string>> {
  const { body = '' } = await beanstalkRaw(port, 'list-tubes');
  const tubes = body
    .split('\n')
    .map((line) => line.replace(/^- /, '').trim())
    .filter((tube) => tube.startsWith(prefix));
  const state: Record<string, string> = {};
  for (const tube of tubes) {
    const { body: stats = '' } = await beanstalkRaw(port, `stats-tube ${tube}`);
    state[tube] = stats
      .split('\n')
      .filter((line) => /^(current-jobs-\w+|total-jobs|pause): /.test(line))
      .join(', ');
  }
  return state;
}

const MUTATING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Query strings some routes need to do anything at all, by operationId. */
const SAMPLE_QUERY: Readonly<Record<string, string>> = { pauseType: '?seconds=60' };

/**
 * The route's request as a client that means it would send it: each `{param}` filled in, the
 * documented example body, the query it needs. A route with a parameter this does not know
 * fails here, so that it gets a sample value instead of escaping the matrix.
 */
function routeRequest(
  app: ReturnType<AppFixture['app']['callback']>,
  route: RouteSpec,
  params: Readonly<Record<string, string>>,
  method: string = route.method,
): request.Test {
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no sample value for {${name}} in ${route.path}: add one`);
    return encodeURIComponent(value);
  });
  const plain = request(app)[method.toLowerCase() as 'get'](
    `${path}${SAMPLE_QUERY[route.operationId] ?? ''}`,
  );
  // An event stream never ends: its head tells whether it was let in.
  const test = route.responses[200]?.contentType === 'text/event-stream' ? firstChunkOnly(plain) : plain;
  return route.requestBody
    ? test.set('Content-Type', 'application/json').send(JSON.stringify(route.requestBody.example))
    : test;
}

/** Whether the rule in docs/reliability.md ("Security") asks a key of this route, with keys set. */
function keyRequired(route: RouteSpec, settings: { authReads: boolean; authOps: boolean }): boolean {
  if (route.ops) return settings.authOps;
  return MUTATING.has(route.method) || settings.authReads;
}

describe('security on real servers', function () {
  this.timeout(30_000);
  let f: AppFixture;
  let port: number;
  const withSecurity = async (security: Partial<SecurityOptions>, extra: { bodyTimeoutMs?: number } = {}) => {
    f = await appFixture({
      label: 'sec',
      security: {
        apiKeys: [],
        authReads: true,
        authOps: false,
        rateLimitPerMinute: 0,
        corsOrigins: [],
        ...security,
      },
      ...extra,
    });
    return f;
  };
  const postJob = (body = '{"a":1}') =>
    request(f.app.callback()).post('/jobs').set('Content-Type', 'application/json').send(body);

  before(() => {
    port = backends().beanstalk.port;
  });
  afterEach(async () => {
    await f?.close();
  });

  it('when keys are set, then every mutating route of the route table answers 401 without a key, with a wrong one or in another scheme, and nothing is stored or queued', async () => {
    await withSecurity({ apiKeys: KEYS });
    const app = f.app.callback();
    const mutating = ROUTES.filter((route) => MUTATING.has(route.method));
    assert.ok(
      mutating.some((r) => r.method === 'DELETE') && mutating.filter((r) => r.method === 'POST').length >= 6,
      `the table's mutating routes: ${mutating.map((r) => `${r.method} ${r.path}`).join(', ')}`,
    );
    const refused = async (params: Record<string, string>) => {
      const answers: string[] = [];
      for (const route of mutating) {
        for (const [offered, header] of [
          ['no key', undefined],
          ['a wrong key', 'Bearer not-a-key-at-all-000000'],
          ['a key as Basic', `Basic ${KEYS[0]!.key}`],
        ] as const) {
          const send = routeRequest(app, route, params);
          const res = await (header === undefined ? send : send.set('Authorization', header));
          answers.push(
            `${route.method} ${route.path} with ${offered}: ${res.status} ${res.body?.error?.code}`,
          );
        }
      }
      assert.deepEqual(
        answers,
        answers.map((a) => a.replace(/: .*/, ': 401 UNAUTHORIZED')),
      );
    };

    // Nothing there yet: a refused request must leave every collection and tube empty.
    await refused({ id: newJobId(), type: 'hash', name: 'nightly' });
    const empty = await storedEverywhere(f.dbName);
    assert.deepEqual(
      Object.entries(empty).filter(([, n]) => n > 0),
      [],
      'nothing stored, jobs, results and groups included',
    );
    assert.deepEqual(await tubesUnder(port, f.tubePrefix), {}, 'nothing queued');

    // A real job: without a key it can be neither cancelled nor retried, its type not paused.
    const keyed = `Bearer ${KEYS[0]!.key}`;
    const job = await postJob('{"target":1}').set('Authorization', keyed);
    assert.equal(job.status, 202);
    // Its queue reference lands after the answer: let it, or the comparison below sees it arrive.
    await waitFor('the queue reference', async () => (await storedEverywhere(f.dbName)).queue_refs === 1);
    const before = { stored: await storedEverywhere(f.dbName), queued: await tubesUnder(port, f.tubePrefix) };
    await refused({ id: job.body.id, type: 'hash', name: 'nightly' });
    assert.deepEqual(
      { stored: await storedEverywhere(f.dbName), queued: await tubesUnder(port, f.tubePrefix) },
      before,
      'a refused request changed nothing',
    );

    // With the key the same requests reach their routes and change things: the checks above
    // compare states that these requests do move.
    const reached: string[] = [];
    for (const route of mutating) {
      const res = await routeRequest(app, route, { id: job.body.id, type: 'hash', name: 'nightly' }).set(
        'Authorization',
        keyed,
      );
      if (res.status === 401 || res.status >= 500)
        reached.push(`${route.method} ${route.path}: ${res.status}`);
    }
    assert.deepEqual(reached, [], 'with the key no route answers 401 or 5xx');
    assert.notDeepEqual(
      { stored: await storedEverywhere(f.dbName), queued: await tubesUnder(port, f.tubePrefix) },
      before,
    );
  });

  for (const settings of [
    { authReads: true, authOps: false },
    { authReads: false, authOps: false },
    { authReads: true, authOps: true },
    { authReads: false, authOps: true },
  ]) {
    it(`when AUTH_READS=${settings.authReads} and AUTH_OPS=${settings.authOps}, then every read route of the route table needs a key exactly as the settings say`, async () => {
      await withSecurity({ apiKeys: KEYS, ...settings });
      const app = f.app.callback();
      const reads = ROUTES.filter((route) => !MUTATING.has(route.method));
      assert.ok(reads.some((r) => r.ops) && reads.some((r) => !r.ops), 'the table has ops and read routes');
      const params = { id: newJobId(), type: 'hash', name: 'nightly' };
      const answers: string[] = [];
      const expected: string[] = [];
      for (const route of reads) {
        // HEAD is served wherever GET is.
        for (const method of route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]) {
          const name = `${method} ${route.path}`;
          const none = await routeRequest(app, route, params, method);
          const wrong = await routeRequest(app, route, params, method).set(
            'Authorization',
            'Bearer not-a-key-at-all-000000',
          );
          const right = await routeRequest(app, route, params, method).set(
            'Authorization',
            `Bearer ${KEYS[1]!.key}`,
          );
          const is401 = (status: number) => (status === 401 ? '401' : 'not 401');
          answers.push(
            `${name}: ${is401(none.status)} without a key, ${is401(wrong.status)} with a wrong one, ${is401(right.status)} with one`,
          );
          expected.push(
            `${name}: ${keyRequired(route, settings) ? '401' : 'not 401'} without a key, 401 with a wrong one, not 401 with one`,
          );
        }
      }
      assert.deepEqual(answers, expected);
    });
  }

  it('when keys are set, then mutating needs a valid Bearer key: 401 without or with a wrong one, 202 with the right one', async () => {
    await withSecurity({ apiKeys: KEYS });
    const none = await postJob();
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'UNAUTHORIZED');
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    const wrong = await postJob().set('Authorization', 'Bearer not-a-key-at-all-000000');
    assert.equal(wrong.status, 401);
    const malformed = await postJob().set('Authorization', 'Basic Y2k6a2V5');
    assert.equal(malformed.status, 401);
    assert.deepEqual(await stored(f.dbName), { jobs: 0, results: 0 }, 'nothing stored for a 401');
    assert.equal((await tubeCounts(port, f.tube)).total, 0);
    const ok = await postJob().set('Authorization', `Bearer ${KEYS[1]!.key}`);
    assert.equal(ok.status, 202);
    const read = await request(f.app.callback()).get(`/jobs/${ok.body.id}`);
    assert.equal(read.status, 401, 'reads need a key by default');
    const readOk = await request(f.app.callback())
      .get(`/jobs/${ok.body.id}`)
      .set('Authorization', `Bearer ${KEYS[0]!.key}`);
    assert.equal(readOk.status, 200);
    const cancel = await request(f.app.callback()).delete(`/jobs/${ok.body.id}`);
    assert.equal(cancel.status, 401);
    assert.equal((await request(f.app.callback()).get('/healthz')).status, 200, 'health stays open');
    assert.equal((await request(f.app.callback()).get('/readyz')).status, 200);
  });

  it('when reads are left open and ops endpoints are protected, then each follows its own setting', async () => {
    await withSecurity({ apiKeys: KEYS, authReads: false, authOps: true });
    const res = await request(f.app.callback()).get(`/jobs/${newJobId()}`);
    assert.equal(res.status, 404, 'an open read reaches the route');
    assert.equal((await request(f.app.callback()).get('/healthz')).status, 401);
    assert.equal(
      (await request(f.app.callback()).get('/healthz').set('Authorization', `Bearer ${KEYS[0]!.key}`)).status,
      200,
    );
  });

  it('when AUTH_OPS=true, then every spelling the router serves for /healthz, /readyz and /metrics needs the key', async () => {
    // Reads open, as the probe ran it: a spelling that escapes the ops rule must not be caught
    // by the read rule instead, or this test could not fail.
    await withSecurity({ apiKeys: KEYS, authReads: false, authOps: true });
    const app = f.app.callback();
    const spellings = [
      '/metrics',
      '/Metrics',
      '/METRICS',
      '/metrics/',
      '/readyz',
      '/readyz/',
      '/Readyz',
      '/HEALTHZ',
      '/HealthZ/',
    ];
    const answers: string[] = [];
    for (const path of spellings) {
      for (const method of ['get', 'head'] as const) {
        const open = await request(app)[method](path);
        const keyed = await request(app)[method](path).set('Authorization', `Bearer ${KEYS[1]!.key}`);
        answers.push(
          `${method.toUpperCase()} ${path}: ${open.status} without a key, ${keyed.status} with one`,
        );
      }
    }
    assert.deepEqual(
      answers,
      answers.map((a) => a.replace(/: .*/, ': 401 without a key, 200 with one')),
    );
    const scraped = await request(app).get('/METRICS/').set('Authorization', `Bearer ${KEYS[1]!.key}`);
    assert.match(scraped.text, /^# HELP /m, 'the odd spelling reaches the metrics handler itself');
  });

  it('when ops endpoints are open, then only the ops routes are: look-alike, unknown and other-method paths still need a key', async () => {
    await withSecurity({ apiKeys: KEYS });
    const app = f.app.callback();
    const key = `Bearer ${KEYS[0]!.key}`;
    for (const path of ['/HEALTHZ', '/metrics/', '/Readyz/']) {
      assert.equal((await request(app).get(path)).status, 200, `${path} is an ops route`);
    }
    const cases: Array<[string, () => request.Test, number]> = [
      ['GET /STATS/', () => request(app).get('/STATS/'), 200],
      ['GET /Workers', () => request(app).get('/Workers'), 200],
      ['GET /metrics/x', () => request(app).get('/metrics/x'), 404],
      ['GET /nope/x', () => request(app).get('/nope/x'), 404],
      ['POST /metrics', () => request(app).post('/metrics'), 405],
      [
        'POST /Jobs/',
        () => request(app).post('/Jobs/').set('Content-Type', 'application/json').send('{}'),
        202,
      ],
    ];
    for (const [name, send, keyedStatus] of cases) {
      assert.equal((await send()).status, 401, `${name} without a key`);
      assert.equal((await send().set('Authorization', key)).status, keyedStatus, `${name} with a key`);
    }
  });

  it('when keys are set and a job is POSTed to a path of its own (ACCEPT_ANY_PATH), then it needs a key exactly as POST /jobs does', async () => {
    await withSecurity({ apiKeys: KEYS, authOps: false, authReads: false });
    const app = f.app.callback();
    const key = `Bearer ${KEYS[0]!.key}`;
    const send = (path: string) => request(app).post(path).set('Content-Type', 'application/json').send('{}');
    for (const path of ['/submit', '/a/b', `/${newJobId()}`]) {
      const none = await send(path);
      assert.equal(none.status, 401, `${path} without a key`);
      assert.equal(none.body.error.code, 'UNAUTHORIZED');
      assert.equal((await send(path).set('Authorization', 'Bearer not-a-key-at-all-000000')).status, 401);
    }
    // Not even a look-alike of an open ops route gets past without a key.
    for (const path of ['/healthzz', '/METRICS/x', '/readyz/now']) {
      assert.equal((await send(path)).status, 401, `${path} without a key`);
      assert.ok([404, 405].includes((await send(path).set('Authorization', key)).status), path);
    }
    assert.deepEqual(await stored(f.dbName), { jobs: 0, results: 0 }, 'nothing stored for a 401');
    const ok = await send('/submit').set('Authorization', key);
    assert.equal(ok.status, 202);
    assert.deepEqual(await stored(f.dbName), { jobs: 1, results: 0 });
  });

  it('when the scheme is spelled bearer in any case, then the key is accepted; everything else stays strict', async () => {
    await withSecurity({ apiKeys: KEYS });
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      const res = await postJob().set('Authorization', `${scheme} ${KEYS[0]!.key}`);
      assert.equal(res.status, 202, scheme);
    }
    for (const header of [
      `Bearer  ${KEYS[0]!.key}`,
      `Bearer\t${KEYS[0]!.key}`,
      `Bearer${KEYS[0]!.key}`,
      `Bearers ${KEYS[0]!.key}`,
      `Basic ${KEYS[0]!.key}`,
      `bearer ${KEYS[0]!.key.toUpperCase()}`,
      'bearer not-a-key-at-all-000000',
    ]) {
      const res = await postJob().set('Authorization', header);
      assert.equal(res.status, 401, JSON.stringify(header));
    }
    assert.equal((await stored(f.dbName)).jobs, 3, 'only the three keyed requests stored a job');
  });

  it('when a key is matched, then every key is compared and only an exact key matches', () => {
    assert.equal(matchApiKey(KEYS, KEYS[1]!.key), 'ops');
    assert.equal(matchApiKey(KEYS, `${KEYS[1]!.key}x`), undefined);
    assert.equal(matchApiKey(KEYS, KEYS[1]!.key.slice(0, -1)), undefined);
    assert.equal(matchApiKey([], 'anything'), undefined);
  });

  it('when a client passes the rate limit, then it gets 429 with a Retry-After in seconds; another key is not affected', async () => {
    await withSecurity({ apiKeys: KEYS, rateLimitPerMinute: 3 });
    const as = (key: string) => postJob().set('Authorization', `Bearer ${key}`);
    for (let i = 0; i < 3; i += 1) assert.equal((await as(KEYS[0]!.key)).status, 202);
    const limited = await as(KEYS[0]!.key);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
      `Retry-After ${retryAfter}`,
    );
    assert.equal((await as(KEYS[1]!.key)).status, 202, 'buckets are per key');
    assert.equal((await stored(f.dbName)).jobs, 4, 'the limited request stored nothing');
  });

  it('when CORS is off, then no CORS headers; when an origin is allowed, then only it is echoed', async () => {
    await withSecurity({});
    const off = await request(f.app.callback()).get('/healthz').set('Origin', 'http://evil.example');
    assert.equal(off.headers['access-control-allow-origin'], undefined);
    await f.close();
    await withSecurity({ corsOrigins: ['http://app.example'] });
    const allowed = await request(f.app.callback()).get('/healthz').set('Origin', 'http://app.example');
    assert.equal(allowed.headers['access-control-allow-origin'], 'http://app.example');
    const other = await request(f.app.callback()).get('/healthz').set('Origin', 'http://evil.example');
    assert.notEqual(other.headers['access-control-allow-origin'], 'http://evil.example');
    const preflight = await request(f.app.callback())
      .options('/jobs')
      .set('Origin', 'http://app.example')
      .set('Access-Control-Request-Method', 'POST');
    assert.equal(preflight.status, 204);
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  });

  it('when anything answers, success or error, then it carries the security headers', async () => {
    await withSecurity({});
    for (const res of [
      await request(f.app.callback()).get('/healthz'),
      await postJob('{'),
      await request(f.app.callback()).get('/nope/x'),
    ]) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
    }
  });

  it('when hostile input arrives, then each gets its 4xx fast, nothing is stored, and the app stays healthy', async () => {
    await withSecurity({});
    const app = f.app.callback();
    const cases: Array<[string, () => request.Test, number, string]> = [
      [
        'raw NUL byte',
        () =>
          postJob()
            .serialize((b: Buffer) => b as never)
            .send(Buffer.from('{"a":"\u0000"}')),
        400,
        'INVALID_JSON',
      ],
      ['control character in a string', () => postJob('{"a":"x\ty"}'), 400, 'INVALID_JSON'],
      [
        'UTF-16 charset',
        () => request(app).post('/jobs').set('Content-Type', 'application/json; charset=utf-16').send('{}'),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'vendor JSON type',
        () => request(app).post('/jobs').set('Content-Type', 'application/vnd.api+json').send('{}'),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      ['overlong id', () => request(app).get(`/jobs/${'1'.repeat(1000)}`), 400, 'INVALID_ID'],
      [
        'look-alike id (Cyrillic а)',
        () =>
          request(app).get(`/jobs/${encodeURIComponent(newJobId().replace(/a/, 'а').replace(/^./, 'а'))}`),
        400,
        'INVALID_ID',
      ],
      ['CRLF in the id', () => request(app).get('/jobs/1%0d%0adelete%201'), 400, 'INVALID_ID'],
      ['%00 in the id', () => request(app).get(`/jobs/${newJobId().slice(0, 35)}%00`), 400, 'INVALID_ID'],
      ['CRLF in a retry id', () => request(app).post('/jobs/2%0d%0akick%20100/retry'), 400, 'INVALID_ID'],
      [
        'idempotency key with spaces',
        () => postJob().set('Idempotency-Key', 'a b'),
        400,
        'INVALID_IDEMPOTENCY_KEY',
      ],
      [
        '1,000 levels deep',
        () => postJob(`${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}`),
        400,
        'JSON_TOO_DEEP',
      ],
      ['a 1 MB body', () => postJob(JSON.stringify({ x: 'y'.repeat(1_000_000) })), 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [name, send, status, code] of cases) {
      const started = Date.now();
      const res = await send();
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error?.code, code, name);
      assert.ok(Date.now() - started < 2000, `${name} answered in ${Date.now() - started} ms`);
    }
    assert.deepEqual(await stored(f.dbName), { jobs: 0, results: 0 });
    assert.equal((await tubeCounts(port, f.tube)).total, 0);
    assert.equal((await request(app).get('/healthz')).status, 200);
  });

  it('when valid but odd JSON arrives, then it is accepted exactly as sent (documented)', async () => {
    await withSecurity({});
    const bodies = [
      '{"huge":123456789012345678901234567890123456789012345678901234567890,"tiny":1e-400,"inf":1e400}',
      '{"dup":1,"dup":2}',
      JSON.stringify(Array.from({ length: 10_000 }, (_, i) => i % 10)),
      '{"nul":"\\u0000","emoji":"😀"}',
      // As Fastify: constructor alone, or prototype elsewhere, is not a prototype key.
      '{"constructor":"x","prototype":{"a":1},"c":{"constructor":{"name":"y"}}}',
    ];
    for (const body of bodies) {
      const res = await postJob(body);
      assert.equal(res.status, 202, body.slice(0, 40));
      const job = await withMongo(f.dbName, (db) => db.collection('jobs').findOne({ _id: res.body.id }));
      assert.equal(job?.payload, body, 'stored byte for byte');
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched');
  });

  const PROTOTYPE_KEYS = [
    '{"__proto__":{"polluted":true}}',
    '{"a":[1,{"constructor":{"prototype":{"polluted":true}}}]}',
    '{"\\u005f_proto__":{"polluted":true}}',
  ];

  it('when a payload holds a __proto__ or constructor.prototype key, then 400 FORBIDDEN_KEY, alone, in a batch or in a matrix template, and nothing is stored', async () => {
    await withSecurity({});
    const app = f.app.callback();
    const json = (path: string, body: string, type = 'application/json') =>
      request(app).post(path).set('Content-Type', type).send(body);
    for (const body of PROTOTYPE_KEYS) {
      for (const path of ['/jobs', '/']) {
        const res = await json(path, body);
        assert.equal(res.status, 400, `${path} ${body}`);
        assert.equal(res.body.error.code, 'FORBIDDEN_KEY', body);
        assert.match(res.body.error.message, /__proto__|constructor/);
      }
      const ndjson = await json('/jobs/batch', `{"ok":1}\n${body}\n`, 'application/x-ndjson');
      assert.equal(ndjson.status, 400, body);
      assert.equal(ndjson.body.error.code, 'INVALID_BATCH');
      assert.deepEqual(
        ndjson.body.items.map((i: { index: number; code: string }) => [i.index, i.code]),
        [[1, 'FORBIDDEN_KEY']],
      );
      const items = await json('/jobs/batch', `[{"payload":{"ok":1}},{"payload":${body}}]`);
      assert.deepEqual(
        [items.status, items.body.items.map((i: { index: number; code: string }) => [i.index, i.code])],
        [400, [[1, 'FORBIDDEN_KEY']]],
        body,
      );
      const matrix = await json('/jobs/matrix', `{"template":${body},"axes":{"n":[1,2]}}`);
      assert.deepEqual([matrix.status, matrix.body.error?.code], [400, 'FORBIDDEN_KEY'], body);
    }
    const itemKey = await json('/jobs/batch', '[{"payload":{},"__proto__":{"polluted":true}}]');
    assert.deepEqual(
      itemKey.body.items.map((i: { index: number; code: string }) => [i.index, i.code]),
      [[0, 'FORBIDDEN_KEY']],
    );
    assert.deepEqual(await stored(f.dbName), { jobs: 0, results: 0 });
    assert.equal((await tubeCounts(port, f.tube)).total, 0);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('when ALLOW_PROTOTYPE_KEYS is on, then such payloads are accepted and stored byte for byte, and no prototype is touched', async () => {
    f = await appFixture({ label: 'sec', allowPrototypeKeys: true });
    for (const body of PROTOTYPE_KEYS) {
      const res = await postJob(body);
      assert.equal(res.status, 202, body);
      const job = await withMongo(f.dbName, (db) => db.collection('jobs').findOne({ _id: res.body.id }));
      assert.equal(job?.payload, body, 'stored byte for byte');
    }
    const matrix = await request(f.app.callback())
      .post('/jobs/matrix')
      .set('Content-Type', 'application/json')
      .send(`{"template":${PROTOTYPE_KEYS[0]},"axes":{"n":[1]}}`);
    assert.equal(matrix.status, 202, JSON.stringify(matrix.body));
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched');
  });

  describe('with a body that never finishes', () => {
    let server: Server;
    afterEach(() => new Promise((r) => server.close(r)));

    it('when the body stalls, then 408 comes within the body timeout and nothing is stored', async () => {
      await withSecurity({}, { bodyTimeoutMs: 800 });
      server = createServer(f.app.callback());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port: httpPort } = server.address() as AddressInfo;
      const started = Date.now();
      const answer = await new Promise<{ status: number; body: string; connection: string | undefined }>(
        (resolve, reject) => {
          const req = httpRequest({
            host: '127.0.0.1',
            port: httpPort,
            method: 'POST',
            path: '/jobs',
            headers: { 'Content-Type': 'application/json', 'Content-Length': '100' },
          });
          req.on('response', (res) => {
            let body = '';
            res.on('data', (c: Buffer) => {
              body += c.toString();
            });
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }),
            );
          });
          req.on('error', reject);
          req.write('{"never":');
        },
      );
      assert.equal(answer.status, 408);
      assert.equal(JSON.parse(answer.body).error.code, 'REQUEST_TIMEOUT');
      assert.equal(answer.connection, 'close');
      assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
      assert.deepEqual(await stored(f.dbName), { jobs: 0, results: 0 });
    });
  });
});
