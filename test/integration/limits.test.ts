/**
 * Rate and concurrency limits per job type (docs/limits-design.md) on real servers: the
 * routes and their 400s, the tokens in beanstalkd, and in-process workers held to the limits.
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import type { Handler } from '../../src/handlers/index.js';
import { reconcileAllTokens, tokenTube } from '../../src/jobs/limit-tokens.js';
import { maxInWindow, maxOverlap } from '../../src/load/windows.js';
import { createTokenLane, type Token } from '../../src/queue/index.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, startTcpProxy, tubeCounts, waitFor, withMongo } from '../support/harness.js';

interface Run {
  id: string;
  worker: string;
  start: number;
  end: number;
}

const silent = pino({ level: 'silent' });
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

describe('type limits on real servers', function () {
  this.timeout(90_000);
  let f: AppFixture;
  let port: number;
  const workers: RunningWorker[] = [];

  const api = () => request(f.app.callback());
  const putLimits = (type: string, body: unknown) =>
    api().put(`/types/${type}/limits`).set('Content-Type', 'application/json').send(JSON.stringify(body));
  const post = async (type: string, body: unknown) => {
    const res = await api()
      .post(`/jobs?type=${type}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const postMany = async (type: string, count: number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 10) {
      ids.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, count - i) }, (_, j) => post(type, { n: i + j })),
        )),
      );
    }
    return ids;
  };
  const outcomes = (type: string) =>
    withMongo(f.dbName, (db) => db.collection('results').find({ type }).toArray());
  /** A handler that records when each run started and ended, in this process. */
  const recording = (runs: Run[], worker: string, ms: number): Handler => {
    return async (_payload, ctx) => {
      const start = Date.now();
      await sleep(ms, ctx.signal);
      runs.push({ id: ctx.jobId, worker, start, end: Date.now() });
      return { ok: true };
    };
  };
  const startWorkers = async (
    count: number,
    handlersFor: (name: string) => Map<string, Handler>,
    extra: Record<string, string> = {},
  ) => {
    for (let i = 0; i < count; i += 1) {
      const name = `limits${i}`;
      const config = loadWorkerConfig({
        ...workerEnvFor(f),
        WORKER_CONCURRENCY: '8',
        WORKER_NAME: name,
        ...extra,
      });
      workers.push(await startWorker(config, { handlers: handlersFor(name), log: silent }));
    }
  };

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(async () => {
    f = await appFixture({ label: 'limits', allowedTypes: ['hash', 'capped', 'rated'], maxAttempts: 3 });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
    // The token tubes are emptied too: nothing of this test stays in the shared beanstalkd.
    for (const type of ['hash', 'capped', 'rated']) await api().delete(`/types/${type}/limits`);
    await f.close();
  });

  it('when limits are put, read and removed, then the tokens follow them and bad bodies are 400 with nothing changed', async () => {
    const run = tokenTube(f.tubePrefix, 'run', 'hash');
    const rate = tokenTube(f.tubePrefix, 'rate', 'hash');

    const before = await api().get('/types/hash/limits');
    assert.equal(before.status, 200);
    assert.equal(before.body.limits, null);

    const put = await putLimits('hash', { rate_per_second: 5, burst: 10, concurrency: 3 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.limits, { rate_per_second: 5, burst: 10, interval_seconds: 2, concurrency: 3 });
    assert.deepEqual(put.body.tokens.run, { ready: 3, reserved: 0, delayed: 0, buried: 0 });
    assert.deepEqual(put.body.tokens.rate, { ready: 10, reserved: 0, delayed: 0, buried: 0 });
    assert.equal((await tubeCounts(port, run)).ready, 3, 'three run tokens in beanstalkd');
    assert.equal((await tubeCounts(port, rate)).ready, 10, 'ten rate tokens in beanstalkd');
    const stored = await withMongo(f.dbName, (db) =>
      db.collection('type_limits').findOne({ _id: 'hash' as never }),
    );
    assert.equal(stored?.concurrency, 3);
    assert.equal(stored?.ratePerSecond, 5);

    const got = await api().get('/types/hash/limits');
    assert.deepEqual(got.body.limits, put.body.limits);
    const stats = await api().get('/stats');
    assert.deepEqual(
      stats.body.types.find((t: { type: string }) => t.type === 'hash').limits,
      put.body.limits,
      'GET /stats shows them',
    );

    const refused: Array<[unknown, string, string?]> = [
      [{ rate_per_second: 5, burst: 7 }, 'INVALID_LIMITS'],
      [{ rate_per_second: 0 }, 'INVALID_LIMITS'],
      [{ concurrency: 2.5 }, 'INVALID_LIMITS'],
      [{ burst: 10 }, 'INVALID_LIMITS'],
      [{}, 'INVALID_LIMITS'],
      [[1, 2], 'INVALID_LIMITS'],
      [{ concurrency: 1, colour: 'red' }, 'INVALID_LIMITS'],
    ];
    for (const [body, code] of refused) {
      const res = await putLimits('hash', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, code, JSON.stringify(body));
    }
    const plain = await api()
      .put('/types/hash/limits')
      .set('Content-Type', 'text/plain')
      .send('{"concurrency":1}');
    assert.equal(plain.status, 415);
    const badType = await putLimits('Not%20A%20Type', { concurrency: 1 });
    assert.equal(badType.status, 400);
    assert.equal(badType.body.error.code, 'INVALID_QUERY');
    assert.deepEqual((await api().get('/types/hash/limits')).body.limits, put.body.limits, 'nothing changed');
    assert.equal((await tubeCounts(port, run)).current, 3);
    assert.equal((await tubeCounts(port, rate)).current, 10);

    const lowered = await putLimits('hash', { concurrency: 1 });
    assert.equal(lowered.status, 200);
    assert.deepEqual(lowered.body.limits, { concurrency: 1 });
    assert.equal((await tubeCounts(port, run)).current, 1, 'surplus run tokens removed');
    assert.equal((await tubeCounts(port, rate)).current, 0, 'no rate: its tokens removed');

    const removed = await api().delete('/types/hash/limits');
    assert.equal(removed.status, 200);
    assert.equal(removed.body.limits, null);
    assert.equal((await tubeCounts(port, run)).current, 0);
    assert.equal(
      await withMongo(f.dbName, (db) => db.collection('type_limits').countDocuments({})),
      0,
      'the stored limits are gone',
    );
  });

  it('when limits are lowered while a worker holds tokens, then the surplus goes once given back (next pass)', async () => {
    await putLimits('hash', { concurrency: 3 });
    const tube = tokenTube(f.tubePrefix, 'run', 'hash');
    const lane = createTokenLane({
      host: '127.0.0.1',
      port,
      connectTimeoutMs: 1000,
      commandTimeoutMs: 2000,
      tube,
    });
    try {
      const held = (await Promise.all([lane.take(), lane.take(), lane.take()])).filter(
        (token): token is Token => token !== null,
      );
      assert.equal(held.length, 3);
      assert.equal(await lane.take(), null, 'no fourth token');
      const lowered = await putLimits('hash', { concurrency: 1 });
      assert.deepEqual(lowered.body.tokens.run, { ready: 0, reserved: 3, delayed: 0, buried: 0 });
      for (const token of held) await lane.giveBack(token, 0);
      await reconcileAllTokens({ queue: f.queue, store: f.store, tubePrefix: f.tubePrefix, log: silent });
      assert.deepEqual(await tubeCounts(port, tube), {
        ready: 1,
        reserved: 0,
        delayed: 0,
        buried: 0,
        current: 1,
        total: (await tubeCounts(port, tube)).total,
      });
    } finally {
      await lane.close();
    }
  });

  it('when a type may run 3 at once, then 3 workers × 8 slots never run more than 3 of its jobs together, and each job runs once', async () => {
    await putLimits('capped', { concurrency: 3 });
    const runs: Run[] = [];
    const free: Run[] = [];
    await startWorkers(
      3,
      (name) =>
        new Map([
          ['capped', recording(runs, name, 200)],
          ['hash', recording(free, name, 200)],
        ]),
    );
    const ids = await postMany('capped', 30);
    const freeIds = await postMany('hash', 30);
    await waitFor(
      'every capped job to complete',
      async () => (await outcomes('capped')).length === ids.length,
      60_000,
    );
    await waitFor(
      'every hash job to complete',
      async () => (await outcomes('hash')).length === freeIds.length,
    );
    assert.ok(
      maxOverlap(free) > 3,
      `a type without limits beside it is not held back (${maxOverlap(free)} at once)`,
    );

    const most = maxOverlap(runs);
    assert.ok(most <= 3, `at most 3 at once, saw ${most}`);
    assert.equal(most, 3, 'the cap is used, not just respected');
    assert.deepEqual([...new Set(runs.map((r) => r.id))].sort(), [...ids].sort(), 'every job ran');
    assert.equal(runs.length, ids.length, 'each exactly once');
    assert.ok(new Set(runs.map((r) => r.worker)).size >= 2, 'across workers');
    const counts = await tubeCounts(port, tokenTube(f.tubePrefix, 'run', 'capped'));
    assert.equal(counts.ready, 3, 'every run token is back');
  });

  it('when a type may start 5 a second with a burst of 5, then no second holds more than 10 starts and the rate is about 5', async () => {
    await putLimits('rated', { rate_per_second: 5, burst: 5 });
    const runs: Run[] = [];
    await startWorkers(3, (name) => new Map([['rated', recording(runs, name, 5)]]));
    const ids = await postMany('rated', 35);
    await waitFor(
      'every rated job to complete',
      async () => (await outcomes('rated')).length === ids.length,
      60_000,
    );

    const starts = runs.map((r) => r.start).sort((a, b) => a - b);
    const most = maxInWindow(starts, 1000);
    assert.ok(most <= 10, `at most N + B = 10 starts in any second, saw ${most}`);
    const seconds = ((starts.at(-1) as number) - (starts[0] as number)) / 1000;
    const sustained = (starts.length - 5) / seconds;
    assert.ok(
      sustained >= 3.5 && sustained <= 5.5,
      `about 5 a second after the burst, saw ${sustained.toFixed(2)}`,
    );
    assert.equal(runs.length, ids.length, 'each job ran once');
  });

  it("when a worker's connections are cut while it holds the run tokens, then they come back at once and the others finish the jobs", async () => {
    await putLimits('capped', { concurrency: 2 });
    const proxy = await startTcpProxy(port);
    const runs: Run[] = [];
    const tube = tokenTube(f.tubePrefix, 'run', 'capped');
    try {
      // A worker whose handler never ends on its own: it holds both run tokens.
      const stuck: Handler = (_payload, ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      const config = loadWorkerConfig({
        ...workerEnvFor(f),
        BEANSTALK_PORT: String(proxy.port),
        WORKER_CONCURRENCY: '4',
        WORKER_NAME: 'stuck',
      });
      workers.push(await startWorker(config, { handlers: new Map([['capped', stuck]]), log: silent }));
      const ids = await postMany('capped', 6);
      await waitFor(
        'the stuck worker to hold both tokens',
        async () => (await tubeCounts(port, tube)).reserved === 2,
      );

      await proxy.close();
      await waitFor('both tokens back', async () => (await tubeCounts(port, tube)).ready === 2, 5000);

      await startWorkers(2, (name) => new Map([['capped', recording(runs, name, 50)]]));
      await waitFor(
        'every job to complete',
        async () => (await outcomes('capped')).length === ids.length,
        60_000,
      );
      assert.ok(maxOverlap(runs) <= 2, `at most 2 at once, saw ${maxOverlap(runs)}`);
    } finally {
      await proxy.close();
    }
  });

  it('when a worker never read the limits (MongoDB down since it started) and the type has tokens, then its jobs wait unrun', async () => {
    await putLimits('capped', { concurrency: 1 });
    const { createStore } = await import('../../src/store/index.js');
    const deadStore = createStore({
      url: 'mongodb://127.0.0.1:1',
      dbName: f.dbName,
      timeoutMs: 200,
      insertRetryMs: 200,
    });
    const runs: Run[] = [];
    try {
      const config = loadWorkerConfig({ ...workerEnvFor(f), WORKER_CONCURRENCY: '2', WORKER_NAME: 'blind' });
      workers.push(
        await startWorker(config, {
          handlers: new Map([['capped', recording(runs, 'blind', 5)]]),
          log: silent,
          store: deadStore,
        }),
      );
      await post('capped', { n: 1 });
      await waitFor(
        'the job to be released for later',
        async () => (await tubeCounts(port, `${f.tubePrefix}capped`)).delayed === 1,
      );
      assert.equal(runs.length, 0, 'it never ran');
      assert.equal(
        (await tubeCounts(port, tokenTube(f.tubePrefix, 'run', 'capped'))).ready,
        1,
        'no token taken',
      );
    } finally {
      await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
      await deadStore.close();
    }
  });

  it("when a limited type's job waits for tokens many times and then fails, then only its runs count against its attempts", async () => {
    await putLimits('capped', { concurrency: 1 });
    let letGo: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    const handler: Handler = async (payload) => {
      if ((payload as { hold?: boolean }).hold) {
        await holding;
        return { held: true };
      }
      throw new Error('always fails');
    };
    await startWorkers(1, () => new Map([['capped', handler]]), { WORKER_RETRY_BASE_MS: '0' });
    await post('capped', { hold: true });
    await waitFor(
      'the holder to run',
      async () => (await tubeCounts(port, tokenTube(f.tubePrefix, 'run', 'capped'))).reserved === 1,
    );
    const failing = await post('capped', { hold: false });
    // Released for the limit again and again: beanstalkd's reserves grow past the 3 attempts.
    await waitFor(
      'four deliveries of the waiting job',
      async () => ((await api().get(`/jobs/${failing}`)).body.attempts ?? 0) >= 4,
      30_000,
    );
    letGo();
    const failed = await waitFor(
      'the failed outcome',
      async () => {
        const view = (await api().get(`/jobs/${failing}`)).body;
        return view.state === 'failed' ? view : undefined;
      },
      30_000,
    );
    assert.equal(failed.errors.length, 3, 'three runs, each failed, before it was buried');
  });
});
