/**
 * A type's failed and buried jobs steered at once (`POST /types/<type>/retry-failed`,
 * `POST /types/<type>/kick`), on real servers with an in-process worker: the answer, the
 * stored outcomes and beanstalkd's own counts.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers, type Handler } from '../../src/handlers/index.js';
import { encodeEnvelope } from '../../src/jobs/envelope.js';
import { newJobId } from '../../src/jobs/job-id.js';
import { createConsumer } from '../../src/queue/index.js';
import type { Store } from '../../src/store/index.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, beanstalkRaw, tubeCounts, waitFor, withMongo } from '../support/harness.js';

const FAILING = '?type=simulate&fail_rate=1&mean_ms=1&attempts=1';

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('steering a type’s failed and buried jobs on real servers', function () {
  this.timeout(60_000);
  let f: AppFixture;
  let port: number;
  const extra: AppFixture[] = [];
  let worker: RunningWorker | undefined;
  /** While false, `simulate` runs as built in (fail_rate=1 fails); once true, every run succeeds. */
  let healed = false;
  /** `readStateMarks` calls the app made (the walk over the failed marks). */
  let markReads = 0;
  /** Runs once, inside the next `findJob` of this id (see the cancel race below). */
  let beforeFindJob: { id: string; run: () => Promise<void> } | undefined;

  const handlers = () => {
    const builtins = builtinHandlers({ workerName: 'steer', simulate: { meanMs: 1, failRate: 0 } });
    const simulate = builtins.get('simulate') as Handler;
    const other: Handler = async () => {
      throw new Error('other always fails');
    };
    return new Map<string, Handler>([
      ...builtins,
      [
        'simulate',
        (payload, context) => (healed ? Promise.resolve({ healed: true }) : simulate(payload, context)),
      ],
      ['other', other],
    ]);
  };
  const startWorking = async () => {
    // One job at a time: jobs fail in the order they were posted, and are marked in it.
    const config = loadWorkerConfig({
      ...workerEnvFor(f),
      WORKER_CONCURRENCY: '1',
      WORKER_RETRY_BASE_MS: '0',
    });
    worker = await startWorker(config, { handlers: handlers(), log: pino({ level: 'silent' }) });
  };
  const stopWorking = async () => {
    await worker?.stop(2000);
    worker = undefined;
  };
  const post = async (query: string, body = '{"a":1}') => {
    const res = await request(f.app.callback())
      .post(`/jobs${query}`)
      .set('Content-Type', 'application/json')
      .send(body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const view = async (id: string) => (await request(f.app.callback()).get(`/jobs/${id}`)).body;
  const steer = (type: string, action: 'retry-failed' | 'kick', query = '') =>
    request(f.app.callback()).post(`/types/${type}/${action}${query}`);
  const statesOf = async (ids: readonly string[]) =>
    Promise.all(ids.map(async (id) => (await view(id)).state));
  const allIn = (ids: readonly string[], state: string) => async () =>
    (await statesOf(ids)).every((s) => s === state);
  const outcomesOf = (ids: readonly string[]) =>
    withMongo(f.dbName, async (db) =>
      Promise.all(
        ids.map(
          async (id) =>
            (await db.collection<{ _id: string; outcome: string }>('results').findOne({ _id: id }))?.outcome,
        ),
      ),
    );
  const tube = (type: string) => `${f.tubePrefix}${type}`;

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(async () => {
    healed = false;
    markReads = 0;
    beforeFindJob = undefined;
    f = await appFixture({
      label: 'steer',
      allowedTypes: ['hash', 'simulate', 'other'],
      wrapStore: (store) =>
        new Proxy(store, {
          get(target, name, receiver) {
            const value = Reflect.get(target, name, receiver) as unknown;
            if (name === 'readStateMarks') {
              return (...args: Parameters<Store['readStateMarks']>) => {
                markReads += 1;
                return target.readStateMarks(...args);
              };
            }
            if (name === 'findJob') {
              return async (id: string) => {
                const hook = beforeFindJob;
                if (hook?.id === id) {
                  beforeFindJob = undefined;
                  await hook.run();
                }
                return target.findJob(id);
              };
            }
            return value;
          },
        }),
    });
  });
  afterEach(async () => {
    await stopWorking();
    await Promise.all(extra.splice(0).map((x) => x.close()));
    await f.close();
  });

  it('when a type’s failed jobs are retried in bulk, then each runs again from a fresh copy, newest first and at most limit a call, and other types stay failed', async () => {
    await startWorking();
    const failing: string[] = [];
    for (let i = 0; i < 5; i += 1) failing.push(await post(FAILING, `{"i":${i}}`));
    const others = [await post('?type=other&attempts=1'), await post('?type=other&attempts=1')];
    await waitFor('every job to fail', allIn([...failing, ...others], 'failed'));
    // A failed job's copy is buried once its outcome is counted (a tally commit after the store).
    await waitFor(
      'their copies to be buried',
      async () =>
        (await tubeCounts(port, tube('simulate'))).buried === 5 &&
        (await tubeCounts(port, tube('other'))).buried === 2,
    );
    const byEnd = await Promise.all(
      failing.map(async (id) => ({ id, at: (await view(id)).finishedAt as string })),
    );
    const newestFirst = byEnd.sort((a, b) => b.at.localeCompare(a.at)).map((j) => j.id);

    for (const query of ['?limit=0', '?limit=10001', '?limit=abc', '?limit=1.5', '?limit=1&limit=2']) {
      const refused = await steer('simulate', 'retry-failed', query);
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.error.code, 'INVALID_QUERY', query);
    }
    assert.equal((await tubeCounts(port, tube('simulate'))).buried, 5, 'a refused call changes nothing');

    healed = true;
    const first = await steer('simulate', 'retry-failed', '?limit=2');
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { type: 'simulate', retried: 2, skipped: 0, more: true });
    const [newest, older] = [newestFirst.slice(0, 2), newestFirst.slice(2)];
    await waitFor('the two newest failures to run again', allIn(newest, 'completed'));
    assert.deepEqual(await statesOf(older), ['failed', 'failed', 'failed']);
    assert.deepEqual(await outcomesOf(older), ['failed', 'failed', 'failed']);
    assert.equal(
      (await tubeCounts(port, tube('simulate'))).buried,
      3,
      'the retried jobs’ buried copies are gone',
    );

    const second = await steer('simulate', 'retry-failed');
    assert.deepEqual(second.body, { type: 'simulate', retried: 3, skipped: 0, more: false });
    await waitFor('every simulate job to complete', allIn(failing, 'completed'));
    assert.deepEqual(await outcomesOf(failing), Array(5).fill('completed'));
    for (const id of failing) assert.deepEqual((await view(id)).result, { healed: true });
    await waitFor(
      'the simulate tube to empty',
      async () => (await tubeCounts(port, tube('simulate'))).current === 0,
    );
    // Another type's failures are another type's.
    assert.deepEqual(await statesOf(others), ['failed', 'failed']);
    assert.equal((await tubeCounts(port, tube('other'))).buried, 2);

    // Walked to the end: a call now reads none of the marks again.
    markReads = 0;
    const third = await steer('simulate', 'retry-failed');
    assert.deepEqual(third.body, { type: 'simulate', retried: 0, skipped: 0, more: false });
    assert.equal(markReads, 0);
    for (const type of ['hash', 'nosuch']) {
      const none = await steer(type, 'retry-failed');
      assert.deepEqual(none.body, { type, retried: 0, skipped: 0, more: false }, type);
    }
    const rest = await steer('other', 'retry-failed');
    assert.deepEqual(rest.body, { type: 'other', retried: 2, skipped: 0, more: false });
  });

  it('when a failed job is cancelled while the bulk retry runs, then it is skipped, not an error, and stays cancelled', async () => {
    await startWorking();
    const [a, b] = [await post(FAILING, '{"n":1}'), await post(FAILING, '{"n":2}')];
    await waitFor('both to fail', allIn([a, b], 'failed'));
    const other = await appFixture({ label: 'steer', share: { tubePrefix: f.tubePrefix, dbName: f.dbName } });
    extra.push(other);
    // Another manager cancels `a` just as this one's retry of it reads its record.
    beforeFindJob = {
      id: a,
      run: async () => {
        const cancelled = await request(other.app.callback()).delete(`/jobs/${a}`);
        assert.equal(cancelled.status, 200);
      },
    };
    healed = true;
    const res = await steer('simulate', 'retry-failed');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { type: 'simulate', retried: 1, skipped: 1, more: false });
    assert.equal(beforeFindJob, undefined, 'the cancel ran inside the retry');
    await waitFor('b to run again', allIn([b], 'completed'));
    assert.equal((await view(a)).state, 'cancelled');
    assert.deepEqual(await outcomesOf([a, b]), ['cancelled', 'completed']);
  });

  it('when a type’s buried jobs are kicked, then failed ones are retried, a copy nothing should run is deleted, and the rest are made ready', async () => {
    const simulateTube = tube('simulate');
    await startWorking();
    const [a, b] = [await post(FAILING, '{"n":1}'), await post(FAILING, '{"n":2}')];
    const rawId = await f.queue.put(simulateTube, 'not a job of ours', { priority: 0, delay: 0, ttr: 60 });
    const done = await post('?type=simulate&fail_rate=0&mean_ms=1');
    await waitFor(
      'the failures and the foreign body to be buried, the other job to complete',
      async () =>
        (await allIn([a, b], 'failed')()) &&
        (await allIn([done], 'completed')()) &&
        (await tubeCounts(port, simulateTube)).buried === 3,
    );
    await stopWorking();

    // Buried by hand, as beanstalkd itself buries a put when out of memory: a recorded job with
    // no outcome, a stale copy of a completed job, and a job nobody recorded.
    const consumer = createConsumer({
      host: '127.0.0.1',
      port,
      connectTimeoutMs: 1000,
      commandTimeoutMs: 2000,
      tubes: [simulateTube],
    });
    const buryNext = async () => {
      const job = await consumer.reserve(2);
      assert.ok(job, 'a ready job to bury');
      await consumer.bury(job.beanstalkId, 0);
      return job.beanstalkId;
    };
    const put = (id: string) =>
      f.queue.put(simulateTube, encodeEnvelope({ id, type: 'simulate', payload: '{}', maxAttempts: 1 }), {
        priority: 0,
        delay: 0,
        ttr: 60,
      });
    let waiting: string;
    let unmarked: string;
    try {
      waiting = await post('?type=simulate&fail_rate=0&mean_ms=1');
      await buryNext();
      await put(done);
      await buryNext();
      await put(newJobId());
      await buryNext();
      // A failed job with no failed mark (stored before marks existed): only its buried copy
      // finds it.
      unmarked = await post('?type=simulate&fail_rate=0&mean_ms=1');
      await buryNext();
    } finally {
      await consumer.close();
    }
    const now = new Date();
    await f.store.saveResult({
      _id: unmarked,
      type: 'simulate',
      outcome: 'failed',
      error: { message: 'failed before marks existed' },
      worker: 'old',
      attempt: 1,
      startedAt: now,
      finishedAt: now,
      durationMs: 0,
    });
    assert.equal((await view(waiting)).state, 'buried');
    assert.equal((await view(unmarked)).state, 'failed');
    const before = await tubeCounts(port, simulateTube);
    assert.deepEqual([before.ready, before.buried, before.current], [0, 7, 7], JSON.stringify(before));

    healed = true;
    // The limit counts failed jobs and buried copies together.
    const first = await steer('simulate', 'kick', '?limit=1');
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, {
      type: 'simulate',
      retried: 1,
      skipped: 0,
      kicked: 0,
      removed: 0,
      more: true,
    });
    const second = await steer('simulate', 'kick');
    // a (its mark) and the unmarked one (its buried copy) retried; the foreign body and the
    // waiting job kicked; the completed job's stale copy and the unrecorded one deleted.
    assert.deepEqual(second.body, {
      type: 'simulate',
      retried: 2,
      skipped: 0,
      kicked: 2,
      removed: 2,
      more: false,
    });
    const counts = await tubeCounts(port, simulateTube);
    assert.deepEqual([counts.ready, counts.buried, counts.current], [5, 0, 5], JSON.stringify(counts));
    const ranAgain = [a, b, unmarked, waiting];
    assert.deepEqual(await statesOf(ranAgain), ['queued', 'queued', 'queued', 'queued']);
    assert.deepEqual(await outcomesOf([...ranAgain, done]), [
      undefined,
      undefined,
      undefined,
      undefined,
      'completed',
    ]);
    assert.match((await beanstalkRaw(port, `stats-job ${rawId}`)).body ?? '', /^state: ready$/m);

    await startWorking();
    await waitFor('the retried and the kicked jobs to complete', allIn(ranAgain, 'completed'));
    // Our worker buries a body that is not ours again at once; a kick with the worker running
    // kicks it once, not round and round.
    await waitFor('the foreign body to be buried again', async () => {
      const c = await tubeCounts(port, simulateTube);
      return c.buried === 1 && c.current === 1;
    });
    const again = await steer('simulate', 'kick');
    assert.deepEqual(again.body, {
      type: 'simulate',
      retried: 0,
      skipped: 0,
      kicked: 1,
      removed: 0,
      more: false,
    });
    const stats = (await beanstalkRaw(port, `stats-job ${rawId}`)).body ?? '';
    assert.match(stats, /^kicks: 2$/m, stats);
    const none = await steer('hash', 'kick');
    assert.deepEqual(none.body, { type: 'hash', retried: 0, skipped: 0, kicked: 0, removed: 0, more: false });
  });

  it('when the type is not a job type, then both answer 400 INVALID_QUERY, as pause does', async () => {
    for (const type of ['Bad%20Type', 'UPPER', `a${'b'.repeat(63)}`, '-dash']) {
      for (const action of ['retry-failed', 'kick'] as const) {
        const res = await steer(type, action);
        assert.equal(res.status, 400, `${type} ${action}`);
        assert.equal(res.body.error.code, 'INVALID_QUERY', `${type} ${action}`);
      }
      const paused = await request(f.app.callback()).post(`/types/${type}/pause?seconds=5`);
      assert.equal(paused.body.error.code, 'INVALID_QUERY', `${type} pause`);
    }
  });

  it('when a backend is down, then retry-failed answers 503 STORE_UNAVAILABLE and kick 503 QUEUE_UNAVAILABLE', async () => {
    const noStore = await appFixture({
      label: 'steer',
      mongoUrl: `mongodb://127.0.0.1:${await deadPort()}/`,
    });
    extra.push(noStore);
    const res = await request(noStore.app.callback()).post('/types/simulate/retry-failed');
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'STORE_UNAVAILABLE');
    const noQueue = await appFixture({ label: 'steer', beanstalkPort: await deadPort() });
    extra.push(noQueue);
    const kicked = await request(noQueue.app.callback()).post('/types/simulate/kick');
    assert.equal(kicked.status, 503);
    assert.equal(kicked.body.error.code, 'QUEUE_UNAVAILABLE');
  });
});
