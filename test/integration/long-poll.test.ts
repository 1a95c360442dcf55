/**
 * `GET /jobs/<id>?wait=N` on real servers: a job that ends on any worker, or is cancelled on
 * any manager, wakes a client waiting on another manager (docs/completion-design.md).
 * How fast, in figures, is the bench's business; here a wake must come long before the wait's
 * deadline, which is what tells a wake from a timeout.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers } from '../../src/handlers/index.js';
import { silentLogger } from '../../src/log.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { waitFor } from '../support/harness.js';

describe('long-poll: GET /jobs/<id>?wait=N on real servers', function () {
  this.timeout(40_000);
  let a: AppFixture;
  let b: AppFixture;
  let worker: RunningWorker | undefined;

  beforeEach(async () => {
    a = await appFixture({ label: 'wait', maxWaiters: 2 });
    b = await appFixture({ label: 'wait-b', share: { tubePrefix: a.tubePrefix, dbName: a.dbName } });
  });
  afterEach(async () => {
    await worker?.stop(2000);
    worker = undefined;
    await b.close();
    await a.close();
  });

  const post = async (body = '{"wait":1}') => {
    const res = await request(a.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json')
      .send(body);
    assert.equal(res.status, 202);
    return res.body.id as string;
  };
  /** Starts a GET with ?wait on `f`; resolves with the answer and how long it took. */
  const waitOn = (f: AppFixture, id: string, seconds: number) => {
    const started = Date.now();
    return request(f.app.callback())
      .get(`/jobs/${id}?wait=${seconds}`)
      .then((res) => ({ res, tookMs: Date.now() - started, at: Date.now() }));
  };
  const waiting = async (f: AppFixture) => {
    const text = (await request(f.app.callback()).get('/metrics')).text;
    return Number(/^dw_waiting_requests (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  };

  it('when a job ends on a worker, then a client waiting on another manager is answered completed at once, not at its deadline', async () => {
    const id = await post();
    const answer = waitOn(b, id, 20);
    await waitFor('the request to wait on manager b', async () => (await waiting(b)) === 1);
    worker = await startWorker(loadWorkerConfig({ ...workerEnvFor(a), WORKER_NAME: 'waiter' }), {
      handlers: builtinHandlers(),
      log: silentLogger(),
    });
    const { res, tookMs, at } = await answer;
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'completed');
    assert.ok(tookMs < 10_000, `answered after ${tookMs} ms, long before the 20 s deadline`);
    const stored = await a.store.findResult(id);
    assert.ok(stored, 'the outcome is stored');
    // For the record (the bench measures it): from the handler's end to the answer.
    assert.ok(at >= stored.finishedAt.getTime(), 'answered after the job ended, not before');
    assert.equal(await waiting(b), 0, 'and nothing waits any more');
  });

  it('when a job is cancelled on one manager, then a client waiting on another is answered cancelled', async () => {
    const id = await post();
    const answer = waitOn(b, id, 20);
    await waitFor('the request to wait on manager b', async () => (await waiting(b)) === 1);
    const cancel = await request(a.app.callback()).delete(`/jobs/${id}`);
    assert.equal(cancel.status, 200);
    const { res, tookMs } = await answer;
    assert.equal(res.body.state, 'cancelled');
    assert.ok(tookMs < 10_000, `answered after ${tookMs} ms`);
  });

  it('when nothing ends within N seconds, then it answers the state the job has then, and the HTTP metrics time the whole wait', async () => {
    const id = await post();
    const { res, tookMs } = await waitOn(b, id, 1);
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'queued');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.ok(tookMs >= 950, `waited ${tookMs} ms of the 1 s asked`);
    // Answered outside Koa's chain (handlers/wait-for-job.ts), yet timed until it left.
    const text = (await request(b.app.callback()).get('/metrics')).text;
    const line =
      /^dw_http_request_duration_seconds_sum\{method="GET",route="\/jobs\/\{id\}",status="200"\} (\S+)$/m.exec(
        text,
      );
    assert.ok(line, 'GET /jobs/{id} 200 is counted');
    assert.ok(Number(line[1]) >= 0.95, `timed ${line[1]} s, not only until the hand-over`);
  });

  it('when the job has already ended or does not exist, then it answers at once', async () => {
    const id = await post();
    assert.equal((await request(a.app.callback()).delete(`/jobs/${id}`)).status, 200);
    const ended = await waitOn(b, id, 30);
    assert.equal(ended.res.body.state, 'cancelled');
    assert.ok(ended.tookMs < 10_000, `answered after ${ended.tookMs} ms, not at the 30 s deadline`);
    const missing = await waitOn(b, '01a20000-0000-7000-8000-000000000000', 30);
    assert.equal(missing.res.status, 404);
    assert.equal(missing.res.body.error.code, 'NOT_FOUND');
  });

  it('when wait is not a whole number of seconds from 0 to 60, given once, then 400 INVALID_QUERY and nothing waits', async () => {
    const id = await post();
    for (const query of [
      'wait=61',
      'wait=-1',
      'wait=1.5',
      'wait=abc',
      'wait=',
      'wait=1&wait=2',
      'wait=007',
    ]) {
      const res = await request(b.app.callback()).get(`/jobs/${id}?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'INVALID_QUERY', query);
    }
    assert.equal(await waiting(b), 0);
    const now = await request(b.app.callback()).get(`/jobs/${id}?wait=0`);
    assert.equal(now.body.state, 'queued', 'wait=0 answers at once');
  });

  it('when MAX_WAITERS requests already wait, then one more is 503 TOO_MANY_WAITERS with Retry-After, and a client that leaves frees its place', async () => {
    const id = await post();
    // Two real connections (MAX_WAITERS=2 on manager a), one of which goes away.
    const server = a.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/jobs/${id}?wait=20`;
      const leaving = new AbortController();
      const first = fetch(url, { signal: leaving.signal }).catch(() => 'aborted');
      const second = fetch(url).then((res) => res.json());
      await waitFor('two requests waiting', async () => (await waiting(a)) === 2);
      const third = await request(a.app.callback()).get(`/jobs/${id}?wait=20`);
      assert.equal(third.status, 503);
      assert.equal(third.body.error.code, 'TOO_MANY_WAITERS');
      assert.equal(third.headers['retry-after'], '1');
      leaving.abort();
      assert.equal(await first, 'aborted');
      await waitFor('the place of the client that left to be free', async () => (await waiting(a)) === 1);
      assert.equal((await request(a.app.callback()).delete(`/jobs/${id}`)).status, 200);
      assert.equal(((await second) as { state: string }).state, 'cancelled');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
