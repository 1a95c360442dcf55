/**
 * Several beanstalkd servers (BEANSTALK_SERVERS, queue/queue-set.ts) on real servers: the
 * fixture's beanstalkd and two more of this file's own; an app over the three, an in-process
 * worker that reserves from all three, and the reconciler.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers } from '../../src/handlers/index.js';
import { type LocalServer, startBeanstalkd } from '../../src/local/servers.js';
import { silentLogger } from '../../src/log.js';
import { createReconciler } from '../../src/manager/background/reconciler.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, waitFor, withMongo } from '../support/harness.js';

describe('several beanstalkd servers on real servers', function () {
  this.timeout(90_000);
  let extra: LocalServer[];
  let f: AppFixture;
  let worker: RunningWorker | undefined;

  const api = () => request(f.app.callback());
  const post = (query = '', payload: unknown = { n: Math.random() }) =>
    api().post(`/jobs${query}`).set('Content-Type', 'application/json').send(JSON.stringify(payload));
  const serverList = () =>
    [backends().beanstalk.port, ...extra.map((s) => s.port)].map((port) => `127.0.0.1:${port}`);
  /**
   * Each job's queue ref's server (where its copy was put), once every ref has landed (the
   * POST's answer does not wait for its ref).
   */
  const refServers = (ids: readonly string[]) =>
    waitFor(
      `the queue refs of ${ids.length} jobs`,
      () =>
        withMongo(f.dbName, async (db) => {
          const refs = await db
            .collection<{ _id: string; server: string }>('queue_refs')
            .find({ _id: { $in: [...ids] } })
            .toArray();
          return refs.length === ids.length
            ? new Map(refs.map((ref) => [String(ref._id), ref.server]))
            : undefined;
        }),
      10_000,
      50,
    );
  const outcomes = () => withMongo(f.dbName, (db) => db.collection('results').countDocuments());
  async function startTheWorker(): Promise<void> {
    worker = await startWorker(
      loadWorkerConfig({
        ...workerEnvFor(f),
        BEANSTALK_SERVERS: serverList().join(','),
        WORKER_CONCURRENCY: '6',
        WORKER_NAME: 'several',
      }),
      { handlers: builtinHandlers(), log: silentLogger() },
    );
  }
  async function postMany(n: number, query = ''): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1) {
      const res = await post(query);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
    return ids;
  }

  beforeEach(async () => {
    extra = [await startBeanstalkd(), await startBeanstalkd()];
    f = await appFixture({
      label: 'several',
      moreBeanstalkPorts: extra.map((s) => s.port),
      serverGoneAfterMs: 500,
    });
  });
  afterEach(async () => {
    await worker?.stop(2000);
    worker = undefined;
    await f.close();
    await Promise.all(extra.map((s) => s.stop()));
  });

  it('when jobs are posted, then their copies spread over the three servers, one worker reserves from all, and each completes once', async () => {
    const ids = await postMany(60);
    const where = await refServers(ids);
    const perServer = serverList().map((server) => [...where.values()].filter((s) => s === server).length);
    assert.deepEqual(perServer, [20, 20, 20], 'puts take turns over the servers');
    const stats = (await api().get('/stats')).body;
    assert.equal(
      stats.types.find((t: { type: string }) => t.type === 'hash')?.queued,
      60,
      '/stats sums the servers',
    );
    await startTheWorker();
    await waitFor('every job to complete', async () => (await outcomes()) === 60, 30_000, 100);
    for (const id of ids.slice(0, 6)) assert.equal((await api().get(`/jobs/${id}`)).body.state, 'completed');
  });

  it('when one server is down, then POSTs still answer 202 on the others, /readyz names it, and a job held there answers 503, not 404', async () => {
    const down = extra[1] as LocalServer;
    const downName = `127.0.0.1:${down.port}`;
    // Puts take turns: of three jobs, one is on the server about to go down.
    const first = await postMany(3);
    const held = [...(await refServers(first)).entries()].find(([, server]) => server === downName)?.[0];
    assert.ok(held, 'a job was put on the third server');
    await down.kill();
    const after = await postMany(12);
    const landed = await refServers(after);
    assert.ok(
      [...landed.values()].every((server) => server !== downName),
      'no put is answered from the server that is down',
    );
    const ready = await api().get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.beanstalkdServers[downName], 'unavailable');
    const answer = await api().get(`/jobs/${held}`);
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
  });

  it('when a server is gone with jobs on it, then the reconciler puts them on the others and every job completes once', async () => {
    const ids = await postMany(30);
    const gone = extra[0] as LocalServer;
    const goneName = `127.0.0.1:${gone.port}`;
    const onGone = [...(await refServers(ids)).entries()].filter(([, s]) => s === goneName).map(([id]) => id);
    assert.equal(onGone.length, 10);
    await gone.kill();
    // The set learns it is down (a put or the manager's watch does this); 500 ms later it is gone.
    f.queues.noteDown(goneName);
    await waitFor('the server to count as gone', async () => f.queues.isGone(goneName), 5_000, 50);
    const reconciler = createReconciler({
      queue: f.queues,
      store: f.store,
      log: silentLogger(),
      tubePrefix: f.tubePrefix,
      graceMs: 0,
    });
    const report = await reconciler.pass(new Date());
    assert.equal(report.requeued, 10, 'the jobs of the gone server are put again');
    const moved = await refServers(onGone);
    assert.ok([...moved.values()].every((server) => server !== goneName));
    await startTheWorker();
    await waitFor('every job to complete', async () => (await outcomes()) === 30, 30_000, 100);
    for (const id of onGone) assert.equal((await api().get(`/jobs/${id}`)).body.state, 'completed');
  });
});
