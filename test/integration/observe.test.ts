/**
 * /metrics, /workers, /stats and POST /jobs/outcomes through createApp + supertest, with a
 * worker running in-process, on the real servers. Each test reads the answer before and
 * after jobs flow, and checks it against MongoDB and beanstalkd.
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers } from '../../src/handlers/index.js';
import { newJobId } from '../../src/jobs/job-id.js';
import { freePort } from '../../src/local/servers.js';
import { AcceptCounts, startManagerHeartbeat } from '../../src/manager/background/manager-heartbeat.js';
import { createApp } from '../../src/manager/http/app.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, tubeCounts, waitFor, withMongo } from '../support/harness.js';
import { metricSum } from '../support/metrics.js';

describe('observing the system on real servers', function () {
  this.timeout(60_000);
  let f: AppFixture;
  let worker: RunningWorker | undefined;
  let port: number;

  const configFor = (extra: Record<string, string> = {}) =>
    loadWorkerConfig({
      ...workerEnvFor(f),
      WORKER_CONCURRENCY: '2',
      WORKER_NAME: 'observed',
      WORKER_HEARTBEAT_MS: '200',
      ...extra,
    });
  const run = async (extra: Record<string, string> = {}) => {
    worker = await startWorker(configFor(extra), {
      handlers: builtinHandlers(),
      log: pino({ level: 'silent' }),
    });
    return worker;
  };
  const post = async (body: string) => {
    const res = await request(f.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json')
      .send(body);
    assert.equal(res.status, 202);
    return res.body.id as string;
  };
  const metrics = async () => {
    const res = await request(f.app.callback()).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return res.text;
  };
  const storedResults = () => withMongo(f.dbName, (db) => db.collection('results').countDocuments());

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(async () => {
    f = await appFixture({ label: 'observe' });
  });
  afterEach(async () => {
    await worker?.stop(2000);
    worker = undefined;
    await f.close();
  });

  it('when jobs are accepted, queued and completed, then /metrics moves with them', async () => {
    const before = await metrics();
    assert.equal(metricSum(before, 'dw_jobs_accepted_total', { type: 'hash' }), 0);
    assert.equal(metricSum(before, 'dw_queue_jobs', { type: 'hash', state: 'queued' }), 0);
    assert.equal(metricSum(before, 'dw_jobs_completed_total'), undefined, 'no worker has reported yet');
    assert.equal(metricSum(before, 'dw_backend_up', { backend: 'beanstalkd' }), 1);
    assert.equal(metricSum(before, 'dw_backend_up', { backend: 'mongodb' }), 1);

    const ids = [await post('{"m":1}'), await post('{"m":2}'), await post('{"m":3}')];
    const queued = await metrics();
    assert.equal(metricSum(queued, 'dw_jobs_accepted_total', { type: 'hash' }), 3);
    assert.equal(metricSum(queued, 'dw_queue_jobs', { type: 'hash', state: 'queued' }), 3);
    assert.equal((await tubeCounts(port, f.tube)).ready, 3, 'beanstalkd agrees');
    assert.equal(
      metricSum(queued, 'dw_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/jobs',
        status: '202',
      }),
      3,
    );
    await request(f.app.callback()).get(`/jobs/${ids[0]}`).expect(200);
    await request(f.app.callback()).get(`/${newJobId()}`).expect(404);
    const routes = await metrics();
    assert.equal(
      metricSum(routes, 'dw_http_request_duration_seconds_count', { route: '/jobs/{id}', status: '200' }),
      1,
    );
    assert.equal(
      metricSum(routes, 'dw_http_request_duration_seconds_count', { route: '/{id}', status: '404' }),
      1,
    );
    for (const id of ids) assert.ok(!routes.includes(id), 'no job id becomes a label value');

    await run();
    const done = await waitFor('the heartbeat to report 3 completed', async () => {
      const text = await metrics();
      return metricSum(text, 'dw_jobs_completed_total', { type: 'hash' }) === 3 ? text : undefined;
    });
    assert.equal(await storedResults(), 3, 'MongoDB holds the 3 outcomes');
    assert.equal(metricSum(done, 'dw_jobs_failed_total', { type: 'hash' }), 0);
    assert.equal(metricSum(done, 'dw_job_duration_seconds_count', { type: 'hash' }), 3);
    assert.equal(metricSum(done, 'dw_job_duration_seconds_bucket', { type: 'hash', le: '+Inf' }), 3);
    assert.equal(metricSum(done, 'dw_workers_live'), 1);
    await waitFor('the queue gauge to drain', async () => {
      const text = await metrics();
      return metricSum(text, 'dw_queue_jobs', { type: 'hash', state: 'queued' }) === 0;
    });
  });

  it('when a worker serves its own metrics, then its counters move as it completes jobs, and the port closes when it stops', async () => {
    const metricsPort = await freePort();
    await run({ WORKER_METRICS_PORT: String(metricsPort) });
    const scrape = async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(res.status, 200);
      return res.text();
    };
    const before = await scrape();
    assert.equal(metricSum(before, 'dw_worker_jobs_completed_total', { type: 'hash' }), 0);
    assert.ok(metricSum(before, 'process_cpu_user_seconds_total') !== undefined, 'process metrics too');
    await post('{"w":1}');
    await post('{"w":2}');
    const after = await waitFor('the worker to count 2', async () => {
      const text = await scrape();
      return metricSum(text, 'dw_worker_jobs_completed_total', { type: 'hash' }) === 2 ? text : undefined;
    });
    assert.equal(
      metricSum(after, 'dw_worker_job_duration_seconds_count', { type: 'hash', outcome: 'completed' }),
      2,
    );
    assert.equal(await storedResults(), 2);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
    await worker?.stop(2000);
    worker = undefined;
    await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`));
  });

  it('when a worker runs, then /workers lists it with its counts; when it stops, then it leaves and its document says stopped', async () => {
    const empty = await request(f.app.callback()).get('/workers');
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, { workers: [], goneAfterMs: 15_000 });

    await run({ WORKER_CONCURRENCY: '3' });
    await post('{"x":1}');
    await post('{"x":2}');
    const listed = await waitFor('/workers to show 2 completed', async () => {
      const res = await request(f.app.callback()).get('/workers');
      return res.body.workers[0]?.completed === 2 ? res.body.workers : undefined;
    });
    assert.equal(listed.length, 1);
    const [w] = listed;
    assert.match(w.id, /^observed#[0-9a-f]{8}$/);
    assert.equal(w.name, 'observed');
    assert.equal(w.pid, process.pid);
    assert.deepEqual(w.types, ['hash', 'simulate', 'metrics', 'summary']);
    assert.equal(w.concurrency, 3);
    assert.equal(w.state, 'running');
    assert.equal(w.failed, 0);
    assert.equal(typeof w.avgDurationMs, 'number');
    assert.deepEqual(
      w.byType.map((t: { type: string; completed: number }) => [t.type, t.completed]),
      [['hash', 2]],
    );
    assert.ok(Date.now() - Date.parse(w.lastSeen) < 5_000);
    assert.equal(await storedResults(), 2);

    await worker?.stop(2000);
    worker = undefined;
    const after = await request(f.app.callback()).get('/workers');
    assert.deepEqual(after.body.workers, [], 'a stopped worker is not listed');
    const doc = await withMongo(f.dbName, (db) => db.collection('workers').findOne({ _id: w.id }));
    assert.equal(doc?.state, 'stopped');
    assert.equal(doc?.completed, 2);
  });

  it('when a worker has not been heard from for WORKER_GONE_AFTER_MS, then /workers leaves it out', async () => {
    const app = createApp({
      queue: f.queues,
      store: f.store,
      log: pino({ level: 'silent' }),
      tubePrefix: f.tubePrefix,
      maxJsonDepth: 64,
      defaultOptions: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
      maxJobSize: () => 65_535,
      idempotencyTtlMs: 60_000,
      workerGoneAfterMs: 1_000,
    });
    const doc = (name: string, lastSeen: Date) => ({
      _id: `${name}#00000000`,
      name,
      host: 'h',
      pid: 1,
      types: ['hash'],
      concurrency: 1,
      state: 'running' as const,
      completed: 5,
      failed: 1,
      avgDurationMs: 2,
      byType: [],
      recent: [],
      heartbeatMs: 200,
      startedAt: new Date(Date.now() - 60_000),
      lastSeen,
    });
    await f.store.saveWorker(doc('fresh', new Date()));
    await f.store.saveWorker(doc('silent', new Date(Date.now() - 5_000)));
    const res = await request(app.callback()).get('/workers');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.workers.map((w: { name: string }) => w.name),
      ['fresh'],
    );
    assert.equal(res.body.goneAfterMs, 1_000);
  });

  it('when jobs wait and then complete, then /stats shows them per type and state, in totals and in throughput', async () => {
    await post('{"s":1}');
    await post('{"s":2}');
    const waiting = await request(f.app.callback()).get('/stats');
    assert.equal(waiting.status, 200);
    assert.deepEqual(waiting.body.types, [
      {
        type: 'hash',
        queued: 2,
        delayed: 0,
        running: 0,
        buried: 0,
        completed: 0,
        failed: 0,
        cancelled: 0,
        pausedSeconds: 0,
      },
    ]);
    assert.equal(waiting.body.totals.queued, 2);
    assert.equal(waiting.body.throughput.completed.length, 300);
    assert.equal(waiting.body.throughput.bucketSeconds, 1);

    await run();
    const done = await waitFor('/stats to count 2 completed in throughput', async () => {
      // The outcome count is reused for a few seconds: wait for both sources to catch up.
      const res = await request(f.app.callback()).get('/stats');
      const sum = res.body.throughput.completed.reduce((a: number, b: number) => a + b, 0);
      return sum === 2 && res.body.totals.completed === 2 ? res.body : undefined;
    });
    assert.equal(done.totals.queued, 0);
    assert.equal(done.types[0].completed, 2);
    assert.equal(done.throughput.lastMinute.completed, 2);
    assert.equal(done.workers.live, 1);
    const start = Date.parse(done.throughput.start);
    assert.ok(Math.abs(start + 300_000 - Date.parse(done.at)) < 2_000, 'the window ends now');
    assert.equal(await storedResults(), 2);
  });

  it('when many read /stats at once, then they share reads, and every answer was read after its request came and counts a job posted before it', async () => {
    // A fixture whose store counts the reads of the managers' heartbeats: one per /stats read.
    await f.close();
    let statsReads = 0;
    f = await appFixture({
      label: 'observe',
      wrapStore: (store) =>
        new Proxy(store, {
          get(target, name, receiver) {
            const value = Reflect.get(target, name, receiver);
            if (name !== 'listManagers' || typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              statsReads += 1;
              return value.apply(target, args);
            };
          },
        }),
    });
    const app = f.app.callback();
    const ask = async () => {
      const sentAt = Date.now();
      const res = await request(app).get('/stats');
      assert.equal(res.status, 200);
      return { sentAt, at: Date.parse(res.body.at), queued: res.body.totals.queued as number };
    };
    const first = Promise.all(Array.from({ length: 10 }, ask));
    // Posted while the first wave is being read: every later answer must count it.
    await post('{"coalesce":1}');
    const second = await Promise.all(Array.from({ length: 10 }, ask));
    const answers = [...(await first), ...second];
    for (const answer of answers) assert.ok(answer.at >= answer.sentAt, 'read after the request came');
    for (const answer of second) assert.equal(answer.queued, 1, 'the job posted before is counted');
    assert.ok(statsReads >= 2 && statsReads < answers.length, `20 requests made ${statsReads} reads`);
    assert.equal((await tubeCounts(port, f.tube)).ready, 1);
  });

  it('when jobs are accepted and completed, then /stats counts them per second and per minute of the last hour, accepted from the manager heartbeat', async () => {
    await f.close();
    const counts = new AcceptCounts();
    f = await appFixture({ label: 'observe-hour', acceptCounts: counts });
    const heartbeat = startManagerHeartbeat({
      store: f.store,
      counts,
      log: pino({ level: 'silent' }),
      intervalMs: 100,
    });
    try {
      const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
      const before = await request(f.app.callback()).get('/stats');
      assert.equal(before.status, 200);
      assert.equal(sum(before.body.lastHour.accepted), 0);
      assert.equal(before.body.lastHour.bucketSeconds, 60);
      assert.equal(before.body.lastHour.accepted.length, 60);

      const ids = [await post('{"h":1}'), await post('{"h":2}'), await post('{"h":3}')];
      // A replay of an Idempotency-Key is not a new job: not counted.
      for (const status of [202, 200]) {
        const res = await request(f.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .set('Idempotency-Key', 'observe-hour-key')
          .send('{"h":4}');
        assert.equal(res.status, status);
      }
      await run();
      const done = await waitFor('/stats to count 4 accepted and 4 completed in the hour', async () => {
        const res = await request(f.app.callback()).get('/stats');
        const { lastHour, throughput } = res.body;
        return sum(lastHour.accepted) === 4 &&
          sum(lastHour.completed) === 4 &&
          sum(throughput.accepted) === 4 &&
          sum(throughput.completed) === 4
          ? res.body
          : undefined;
      });
      assert.equal(await storedResults(), ids.length + 1);
      assert.equal(done.throughput.lastMinute.accepted, 4);
      assert.equal(sum(done.lastHour.failed), 0);
      assert.equal(done.managers.live, 1);
      const start = Date.parse(done.lastHour.start);
      assert.equal(start % 60_000, 0, 'minute buckets start on the minute');
      assert.ok(Date.parse(done.at) - start < 3_600_000 && Date.parse(done.at) - start >= 3_540_000);
      // The last bucket is the current minute: the jobs were just counted there (or in the one
      // before, when the minute turned meanwhile).
      const last2 = done.lastHour.accepted.slice(-2);
      assert.equal(sum(last2), 4);

      await heartbeat.stop();
      const stopped = await request(f.app.callback()).get('/stats');
      assert.equal(stopped.body.managers.live, 0, 'a stopped manager is not live');
      assert.equal(sum(stopped.body.lastHour.accepted), 4, 'its last heartbeat still counts for the hour');
    } finally {
      await heartbeat.stop();
    }
  });

  it('when many ids are looked up at once, then their outcomes come back and the others are unfinished; bad lookups change nothing', async () => {
    await run();
    const ids = [await post('{"o":1}'), await post('{"o":2}'), await post('{"o":3}')];
    await waitFor('3 outcomes', async () => (await storedResults()) === 3);
    const unknown = newJobId();
    const res = await request(f.app.callback())
      .post('/jobs/outcomes')
      .set('Content-Type', 'application/json')
      .send({ ids: [...ids.map((id) => id.toUpperCase()), unknown] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outcomes.map((o: { id: string }) => o.id).sort(), [...ids].sort());
    for (const outcome of res.body.outcomes) {
      assert.equal(outcome.state, 'completed');
      assert.equal(outcome.type, 'hash');
      assert.match(outcome.worker, /^observed:\d$/);
      assert.ok(Date.parse(outcome.finishedAt) >= Date.parse(outcome.startedAt));
    }
    assert.deepEqual(res.body.unfinished, [unknown]);

    const bad: Array<[unknown, string, number, string]> = [
      [{ ids: ['nope'] }, 'application/json', 400, 'INVALID_ID'],
      [{ ids: [] }, 'application/json', 400, 'INVALID_REQUEST'],
      [{ id: ids[0] }, 'application/json', 400, 'INVALID_REQUEST'],
      ['42', 'application/json', 400, 'INVALID_REQUEST'],
      [{ ids: new Array(10_001).fill(ids[0]) }, 'application/json', 400, 'INVALID_REQUEST'],
      [JSON.stringify({ ids }), 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ];
    for (const [body, type, status, code] of bad) {
      const answer = await request(f.app.callback())
        .post('/jobs/outcomes')
        .set('Content-Type', type)
        .send(typeof body === 'string' ? body : JSON.stringify(body));
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, code);
    }
    assert.equal(await storedResults(), 3, 'nothing changed');
    assert.equal(await withMongo(f.dbName, (db) => db.collection('jobs').countDocuments()), 3);
  });
});
