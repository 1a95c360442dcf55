/**
 * The manager's HTTP contract through createApp + supertest, against real beanstalkd and a
 * real MongoDB-wire server. Each test checks the answer, MongoDB and beanstalkd.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { hashPayload } from '../../src/handlers/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/jobs/envelope.js';
import { newJobId } from '../../src/jobs/job-id.js';
import { type LocalServer, startBeanstalkd } from '../../src/local/servers.js';
import { createConsumer } from '../../src/queue/index.js';
import { type AppFixture, appFixture } from '../support/app-fixture.js';
import { backends, beanstalkRaw, tubeCounts, waitFor, withMongo } from '../support/harness.js';

async function storedCounts(dbName: string) {
  return withMongo(dbName, async (db) => ({
    jobs: await db.collection('jobs').countDocuments(),
    refs: await db.collection('queue_refs').countDocuments(),
    results: await db.collection('results').countDocuments(),
  }));
}

describe('manager HTTP API on real servers', function () {
  this.timeout(30_000);
  let f: AppFixture;
  let port: number;

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(async () => {
    f = await appFixture({ label: 'manager' });
  });
  afterEach(async () => {
    await f.close();
  });

  it('when a JSON job is POSTed to /, then it is recorded in MongoDB and queued in beanstalkd before the 202', async () => {
    const body = '{"example":"data"}';
    const res = await request(f.app.callback()).post('/').set('Content-Type', 'application/json').send(body);
    assert.equal(res.status, 202);
    const { id, state, type, createdAt } = res.body as Record<string, string>;
    assert.equal(res.headers.location, `/jobs/${id}`);
    assert.equal(state, 'queued');
    assert.equal(type, 'hash');
    assert.ok(!Number.isNaN(Date.parse(createdAt!)));

    const job = await withMongo(f.dbName, (db) => db.collection('jobs').findOne({ _id: id as never }));
    assert.equal(job?.payload, body);
    assert.equal(job?.type, 'hash');
    const early = await request(f.app.callback()).get(`/jobs/${id}`);
    assert.equal(early.body.state, 'queued');
    assert.equal(
      early.body.queue?.tube,
      f.tube,
      'live fields at once, whether or not the reference has landed',
    );
    // The answer does not wait for the queue reference; it lands right after.
    const ref = await waitFor('where it was put to be recorded', () =>
      withMongo(f.dbName, (db) => db.collection('queue_refs').findOne({ _id: id as never })).then(
        (doc) => doc ?? undefined,
      ),
    );
    const peeked = await beanstalkRaw(port, `peek ${ref.beanstalkId}`);
    assert.deepEqual(decodeEnvelope(peeked.body ?? ''), { id, type: 'hash', payload: body, maxAttempts: 3 });
    assert.equal((await tubeCounts(port, f.tube)).ready, 1);
  });

  it("when a JSON job is POSTed to a path of its own, then it is a job as POST / makes it (the original took any path); paths under the API's own names stay 404 or 405", async () => {
    const body = '{"example":"data"}';
    const postTo = (path: string, text = body, type = 'application/json') =>
      request(f.app.callback()).post(path).set('Content-Type', type).send(text);
    const ids: string[] = [];
    for (const path of ['/submit', '/queue/add/', '/a/b/c?priority=5', `/${newJobId()}`]) {
      const res = await postTo(path);
      assert.equal(res.status, 202, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.headers.location, `/jobs/${res.body.id}`, path);
      assert.deepEqual([res.body.state, res.body.type], ['queued', 'hash'], path);
      const job = await withMongo(f.dbName, (db) => db.collection('jobs').findOne({ _id: res.body.id }));
      assert.equal(job?.payload, body, path);
      ids.push(res.body.id);
    }
    const prioritised = await request(f.app.callback()).get(`/jobs/${ids[2]}`);
    assert.equal(prioritised.body.queue.priority, 5, 'options apply as on POST /');
    // The same checks as POST /: nothing that POST / refuses becomes a job elsewhere.
    assert.equal((await postTo('/submit', body, 'text/plain')).status, 415);
    assert.equal((await postTo('/submit', '7')).body.error.code, 'INVALID_JOB');
    assert.equal((await postTo('/submit?type=nosuchtype')).body.error.code, 'UNKNOWN_JOB_TYPE');
    // A typo in our own paths, in any case, is never a job.
    for (const path of [
      '/jobs/bacth',
      '/jobs/x/y',
      '/Jobs/Matrix/x',
      '/jobss',
      '/JOBS.json',
      '/groups',
      '/groups/x/y',
      '/types/hash',
      '/types/hash/pause/now',
      '/workers/1',
      '/Stats',
      '/metrics',
      '/healthz/x',
      '/readyz',
      '/openapi.json',
    ]) {
      const res = await postTo(path);
      assert.ok([404, 405].includes(res.status), `${path}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.code, /^(NOT_FOUND|METHOD_NOT_ALLOWED)$/, path);
    }
    assert.equal((await storedCounts(f.dbName)).jobs, ids.length);
    assert.equal((await tubeCounts(port, f.tube)).total, ids.length);
    const metrics = (await request(f.app.callback()).get('/metrics')).text;
    assert.match(
      metrics,
      /dw_http_request_duration_seconds_count\{method="POST",route="\/\*",status="202"\} 4/,
    );
    assert.ok(!metrics.includes('/submit') && !metrics.includes('/queue/add'), 'no raw path becomes a label');

    const strict = await appFixture({ label: 'strict', acceptAnyPath: false });
    try {
      for (const path of ['/submit', '/a/b/c']) {
        const res = await request(strict.app.callback())
          .post(path)
          .set('Content-Type', 'application/json')
          .send(body);
        assert.ok([404, 405].includes(res.status), `ACCEPT_ANY_PATH=false: ${path} ${res.status}`);
      }
      assert.equal((await storedCounts(strict.dbName)).jobs, 0);
    } finally {
      await strict.close();
    }
  });

  it('when a body has spacing and non-ASCII text, then the exact bytes are stored and queued', async () => {
    const body = '[ {"name": "Zoë 😀"},\n  1e400, 12345678901234567890, {"a":1,"a":2} ]';
    const res = await request(f.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(body);
    assert.equal(res.status, 202);
    const job = await withMongo(f.dbName, (db) => db.collection('jobs').findOne({ _id: res.body.id }));
    assert.equal(job?.payload, body);
    assert.equal(job?.bytes, Buffer.byteLength(body));
  });

  it("when a queued job is read at /<id>, /<id>/ and /jobs/<id>, then each shows beanstalkd's live fields", async () => {
    const posted = await request(f.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json')
      .send('{"a":1}');
    const id = posted.body.id as string;
    for (const path of [`/${id}`, `/${id}/`, `/jobs/${id}`, `/jobs/${id.toUpperCase()}`]) {
      const res = await request(f.app.callback()).get(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.body.id, id);
      assert.equal(res.body.state, 'queued');
      assert.equal(res.body.attempts, 0);
      const queue = res.body.queue as Record<string, unknown>;
      assert.equal(queue.priority, 1024);
      assert.equal(queue.ttr, 60);
      assert.equal(queue.tube, f.tube);
      for (const field of [
        'age',
        'delay',
        'timeLeft',
        'reserves',
        'timeouts',
        'releases',
        'buries',
        'kicks',
      ]) {
        assert.equal(typeof queue[field], 'number', field);
      }
    }
  });

  it('when a worker holds the job, then GET says running; when its outcome is stored, then GET says completed', async () => {
    const body = '{"b":2}';
    const posted = await request(f.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json')
      .send(body);
    const id = posted.body.id as string;
    const consumer = createConsumer({
      host: '127.0.0.1',
      port,
      connectTimeoutMs: 1000,
      commandTimeoutMs: 2000,
      tubes: [f.tube],
    });
    try {
      const job = await consumer.reserve(2);
      assert.ok(job);
      const running = await request(f.app.callback()).get(`/jobs/${id}`);
      assert.equal(running.body.state, 'running');
      assert.equal(running.body.attempts, 1);
      assert.equal(running.body.queue.reserves, 1);
      const now = new Date();
      await f.store.saveResult({
        _id: id,
        type: 'hash',
        outcome: 'completed',
        result: { algorithm: 'md5', hash: hashPayload(body) },
        worker: 'test:1:0',
        attempt: 1,
        startedAt: now,
        finishedAt: now,
        durationMs: 0,
      });
      await consumer.delete(job.beanstalkId);
      const done = await request(f.app.callback()).get(`/jobs/${id}`);
      assert.equal(done.status, 200);
      assert.equal(done.body.state, 'completed');
      assert.deepEqual(done.body.result, { algorithm: 'md5', hash: hashPayload(body) });
      assert.equal(done.body.worker, 'test:1:0');
      assert.equal(typeof done.body.durationMs, 'number');
    } finally {
      await consumer.close();
    }
  });

  it('when an id is well-formed but unknown, then 404; when malformed, then 400', async () => {
    const unknown = await request(f.app.callback()).get(`/jobs/${newJobId()}`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
    for (const bad of [
      'abc',
      '00000000-0000-4000-8000-000000000000',
      `${newJobId()}x`,
      '%0d%0adelete%201',
      '1',
    ]) {
      const res = await request(f.app.callback()).get(`/jobs/${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.code, 'INVALID_ID', bad);
      const short = await request(f.app.callback()).get(`/${bad}`);
      assert.equal(short.status, 400, bad);
    }
  });

  it('when the input is bad, then each gets its 4xx JSON error and nothing is stored or queued', async () => {
    const post = (path = '/jobs') => request(f.app.callback()).post(path);
    const cases: Array<[string, () => request.Test, number, string]> = [
      [
        'truncated JSON',
        () => post().set('Content-Type', 'application/json').send('{"a":'),
        400,
        'INVALID_JSON',
      ],
      ['empty body', () => post().set('Content-Type', 'application/json').send(''), 400, 'INVALID_JSON'],
      [
        'byte order mark',
        () => post().set('Content-Type', 'application/json').send('\uFEFF{"a":1}'),
        400,
        'INVALID_JSON',
      ],
      [
        'JSON as text/plain',
        () => post().set('Content-Type', 'text/plain').send('{"a":1}'),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      ['no content type', () => post().send(Buffer.from('{"a":1}')), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['form body', () => post().type('form').send('id[$ne]=1'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['multipart', () => post().field('a', '1'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [
        'latin-1 charset',
        () => post().set('Content-Type', 'application/json; charset=latin1').send('{"a":1}'),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'gzip encoding',
        () => post().set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('{"a":1}'),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'invalid UTF-8',
        // superagent would JSON-encode a Buffer: send the bytes as they are.
        () =>
          post()
            .set('Content-Type', 'application/json')
            .serialize((b: Buffer) => b as never)
            .send(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])),
        400,
        'INVALID_UTF8',
      ],
      ['a number', () => post().set('Content-Type', 'application/json').send('42'), 400, 'INVALID_JOB'],
      ['a string', () => post().set('Content-Type', 'application/json').send('"job"'), 400, 'INVALID_JOB'],
      ['null', () => post().set('Content-Type', 'application/json').send('null'), 400, 'INVALID_JOB'],
      [
        '65 levels deep',
        () =>
          post()
            .set('Content-Type', 'application/json')
            .send(`${'['.repeat(65)}${']'.repeat(65)}`),
        400,
        'JSON_TOO_DEEP',
      ],
      [
        '100,000 levels deep',
        () =>
          post()
            .set('Content-Type', 'application/json')
            .send(`${'['.repeat(30_000)}${']'.repeat(30_000)}`),
        400,
        'JSON_TOO_DEEP',
      ],
      [
        '70,000 bytes',
        () =>
          post()
            .set('Content-Type', 'application/json')
            .send(JSON.stringify({ x: 'a'.repeat(70_000) })),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      // Fits the body limit, but escaping every quote makes the queued job pass max-job-size.
      [
        'quotes that grow once queued',
        () =>
          post()
            .set('Content-Type', 'application/json')
            .send(JSON.stringify(['"'.repeat(30_000)])),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      [
        'PUT /jobs',
        () => request(f.app.callback()).put('/jobs').set('Content-Type', 'application/json').send('{}'),
        405,
        'METHOD_NOT_ALLOWED',
      ],
      ['DELETE /', () => request(f.app.callback()).delete('/'), 405, 'METHOD_NOT_ALLOWED'],
      ['no such route', () => request(f.app.callback()).get('/jobs/a/b'), 404, 'NOT_FOUND'],
    ];
    for (const [name, send, status, code] of cases) {
      const res = await send();
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
      assert.match(String(res.headers['content-type']), /application\/json/, name);
      assert.equal(res.body.error?.code, code, name);
      assert.equal(typeof res.body.error?.message, 'string', name);
      if (status === 405) assert.match(String(res.headers.allow), /POST|GET/, `${name}: Allow header`);
    }
    assert.deepEqual(await storedCounts(f.dbName), { jobs: 0, refs: 0, results: 0 });
    assert.equal((await tubeCounts(port, f.tube)).total, 0);
  });

  it("when beanstalkd's id is reused by another job, then GET never shows that job's state as this one's", async () => {
    const other = await request(f.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json')
      .send('{"other":1}');
    const otherRef = await waitFor("the other job's reference", () =>
      f.store.findQueueRef(other.body.id).then((doc) => doc ?? undefined),
    );
    assert.ok(otherRef);
    const id = newJobId();
    await f.store.insertJob({
      _id: id,
      type: 'hash',
      payload: '{}',
      bytes: 2,
      options: { priority: 1, delay: 0, ttr: 60, maxAttempts: 1 },
      createdAt: new Date(),
    });
    await f.store.insertQueueRef({ ...otherRef, _id: id });
    const res = await request(f.app.callback()).get(`/jobs/${id}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.id, id);
    assert.equal(res.body.queue, null, "not the other job's live fields");
    assert.equal(res.body.state, 'queued');
  });

  it('when the service is asked about its health, then /healthz is 200 and /readyz names both backends', async () => {
    assert.equal((await request(f.app.callback()).get('/healthz')).status, 200);
    const ready = await request(f.app.callback()).get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', beanstalkd: 'ok', mongodb: 'ok' });
  });

  describe('with ACCEPT_HOLD_SECONDS (put on hold, record, kick)', () => {
    it('when a job is POSTed, then its record says where it was put, no queue reference is written, and it is kicked before the 202', async () => {
      const g = await appFixture({ label: 'hold', acceptHoldSeconds: 120 });
      try {
        const body = '{"held":"no longer"}';
        const res = await request(g.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .send(body);
        assert.equal(res.status, 202);
        const id = res.body.id as string;
        const job = await g.store.findJob(id);
        assert.equal(job?.queue?.tube, g.tube, 'where it was put is in the record');
        assert.equal(job?.queue?.server, g.queue.server);
        assert.deepEqual(await storedCounts(g.dbName), { jobs: 1, refs: 0, results: 0 });
        const peeked = await beanstalkRaw(port, `peek ${job?.queue?.beanstalkId}`);
        assert.deepEqual(decodeEnvelope(peeked.body ?? ''), {
          id,
          type: 'hash',
          payload: body,
          maxAttempts: 3,
          held: true,
        });
        const stats = await g.queue.statsJob(String(job?.queue?.beanstalkId));
        assert.equal(stats.state, 'ready', 'kicked from its hold before the 202');
        assert.equal(stats.kicks, 1);
        assert.equal(stats.delay, 120, "beanstalkd's delay is the hold");
        const live = await request(g.app.callback()).get(`/jobs/${id}`);
        assert.equal(live.body.state, 'queued');
        assert.equal(live.body.queue.delay, 0, 'GET shows the delay the job asked for');
        const delayed = await request(g.app.callback())
          .post('/jobs?delay=30')
          .set('Content-Type', 'application/json')
          .send('{"later":1}');
        assert.equal(delayed.body.state, 'delayed');
        assert.ok(
          await waitFor("the delayed job's reference", () =>
            g.store.findQueueRef(delayed.body.id).then((doc) => doc ?? undefined),
          ),
          'a delayed job is recorded first, then referenced',
        );
        assert.equal((await tubeCounts(port, g.tube)).ready, 1);
        assert.equal((await tubeCounts(port, g.tube)).delayed, 1);
      } finally {
        await g.close();
      }
    });

    it('when MongoDB is unreachable, then POST answers 503 and the held copy is deleted again', async () => {
      const down = await appFixture({
        label: 'holdnomongo',
        mongoUrl: 'mongodb://127.0.0.1:1',
        acceptHoldSeconds: 120,
      });
      try {
        const res = await request(down.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .send('{"y":2}');
        assert.equal(res.status, 503);
        assert.equal(res.body.error.code, 'STORE_UNAVAILABLE');
        const counts = await tubeCounts(port, down.tube);
        assert.equal(counts.total, 1, 'it was put on hold first');
        assert.equal(counts.current, 0, 'and deleted before the 503');
      } finally {
        await down.close();
      }
    });
  });

  describe('when a backend is down', () => {
    it('when beanstalkd is unreachable, then POST answers 503 fast and leaves no record; GET of an accepted job is 503, not 404', async () => {
      const own = await startBeanstalkd();
      // Queue timeouts far above the bound below: a 503 within it cannot have waited one out.
      const g = await appFixture({
        label: 'down',
        beanstalkPort: own.port,
        queueTimeoutsMs: { connect: 20_000, command: 20_000 },
      });
      try {
        const accepted = await request(g.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .send('{"x":1}');
        assert.equal(accepted.status, 202);
        await own.kill();
        const started = Date.now();
        const res = await request(g.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .send('{"y":2}');
        assert.equal(res.status, 503);
        assert.equal(res.body.error.code, 'QUEUE_UNAVAILABLE');
        const answeredMs = Date.now() - started;
        assert.ok(answeredMs < 10_000, `answered in ${answeredMs} ms, not after a 20 s queue timeout`);
        assert.deepEqual(
          await waitFor("the accepted job's reference", async () => {
            const counts = await storedCounts(g.dbName);
            return counts.refs === 1 ? counts : undefined;
          }),
          { jobs: 1, refs: 1, results: 0 },
          "the failed job's record was undone",
        );
        const get = await request(g.app.callback()).get(`/jobs/${accepted.body.id}`);
        assert.equal(get.status, 503);
        assert.equal(get.body.error.code, 'QUEUE_UNAVAILABLE');
        const ready = await request(g.app.callback()).get('/readyz');
        assert.equal(ready.status, 503);
        assert.equal(ready.body.beanstalkd, 'unavailable');
        assert.ok(Date.now() - started < 10_000, 'every answer came without waiting out a queue timeout');
      } finally {
        await g.close();
        await own.stop();
      }
    });

    it('when MongoDB is unreachable, then POST and GET answer 503 fast and nothing is queued', async () => {
      const down = await appFixture({ label: 'nomongo', mongoUrl: 'mongodb://127.0.0.1:1' });
      try {
        const started = Date.now();
        const res = await request(down.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .send('{"y":2}');
        assert.equal(res.status, 503);
        assert.equal(res.body.error.code, 'STORE_UNAVAILABLE');
        const get = await request(down.app.callback()).get(`/jobs/${newJobId()}`);
        assert.equal(get.status, 503, 'unknown is not the same as not found while MongoDB is down');
        assert.ok(Date.now() - started < 8000, `answered within the bound (${Date.now() - started} ms)`);
        assert.equal((await tubeCounts(port, down.tube)).current, 0);
        const ready = await request(down.app.callback()).get('/readyz');
        assert.equal(ready.status, 503);
        assert.equal(ready.body.mongodb, 'unavailable');
      } finally {
        await down.close();
      }
    });
  });

  describe('with a beanstalkd whose max-job-size is 4096', () => {
    let small: LocalServer;
    before(async () => {
      small = await startBeanstalkd({ maxJobSize: 4096 });
    });
    after(async () => {
      await small.stop();
    });

    it('when a payload would not fit once queued, then 413 and nothing stored; one that fits is accepted', async () => {
      const g = await appFixture({ label: 'small', beanstalkPort: small.port, maxJobSize: 4096 });
      try {
        const tooBig = JSON.stringify({ x: 'a'.repeat(4000) });
        const res = await request(g.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .send(tooBig);
        assert.equal(res.status, 413);
        assert.equal(res.body.error.code, 'PAYLOAD_TOO_LARGE');
        const fits = JSON.stringify({ x: 'a'.repeat(3000) });
        const ok = await request(g.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .send(fits);
        assert.equal(ok.status, 202);
        assert.deepEqual(
          await waitFor('its reference', async () => {
            const counts = await storedCounts(g.dbName);
            return counts.refs === 1 ? counts : undefined;
          }),
          { jobs: 1, refs: 1, results: 0 },
        );
        assert.equal((await tubeCounts(small.port, g.tube)).total, 1);
        // The envelope's real overhead stays inside the budget the body limit assumes.
        const overhead = Buffer.byteLength(
          encodeEnvelope({ id: newJobId(), type: 'hash', payload: '', maxAttempts: 1000, held: true }),
        );
        assert.ok(overhead < 128, `envelope overhead ${overhead}`);
      } finally {
        await g.close();
      }
    });

    it("when the manager believes the limit is larger than the server's, then beanstalkd's JOB_TOO_BIG still ends in 413 with the record undone", async () => {
      const g = await appFixture({ label: 'stale', beanstalkPort: small.port, maxJobSize: 65_535 });
      try {
        const res = await request(g.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ x: 'a'.repeat(10_000) }));
        assert.equal(res.status, 413);
        assert.deepEqual(await storedCounts(g.dbName), { jobs: 0, refs: 0, results: 0 });
      } finally {
        await g.close();
      }
    });
  });
});
