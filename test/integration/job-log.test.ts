/**
 * The job log and what reads through it (store/job-log.ts): several writers, jobs whose
 * record never landed, cursors, time jumps, settling, retention's floor, group marks and
 * outcome tallies — on the real MongoDB-wire server.
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers } from '../../src/handlers/index.js';
import { jobIdTime, newJobId } from '../../src/jobs/job-id.js';
import { startBackgroundPasses } from '../../src/manager/background/background-passes.js';
import { createReconciler } from '../../src/manager/background/reconciler.js';
import { createRetention } from '../../src/manager/background/retention.js';
import {
  createStore,
  type JobDocument,
  type ResultDocument,
  SEGMENT_KEEP_MS,
  type Store,
} from '../../src/store/index.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, waitFor, withMongo } from '../support/harness.js';

const silent = pino({ level: 'silent' });

/** A reconciler over the fixture's servers that judges every job, however young. */
const reconcilerFor = (f: AppFixture) =>
  createReconciler({ queue: f.queues, store: f.store, log: silent, tubePrefix: f.tubePrefix, graceMs: 0 });

function record(id: string, extra: Partial<JobDocument> = {}): JobDocument {
  return {
    _id: id,
    type: 'hash',
    payload: '{}',
    bytes: 2,
    options: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
    createdAt: jobIdTime(id),
    ...extra,
  };
}

function outcome(id: string, finishedAt = new Date(), extra: Partial<ResultDocument> = {}): ResultDocument {
  return {
    _id: id,
    type: 'hash',
    outcome: 'completed',
    result: { algorithm: 'md5', hash: 'x' },
    worker: 'test',
    attempt: 1,
    maxAttempts: 3,
    startedAt: finishedAt,
    finishedAt,
    durationMs: 0,
    ...extra,
  };
}

describe('the job log on real servers', function () {
  this.timeout(60_000);
  let f: AppFixture;
  const workers: RunningWorker[] = [];
  const list = async (query: string) => {
    const res = await request(f.app.callback()).get(`/jobs${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { jobs: Array<{ id: string; state: string }>; nextCursor: string | null };
  };
  /** Every job id in the log, oldest segment first. */
  const logged = async (store: Store) => {
    const meta = await store.log.readLogMeta();
    const head = await store.log.logHead(meta);
    const numbers: number[] = [];
    const ids: string[] = [];
    for (let n = meta.floor; n <= head; n += 1) {
      const segment = await store.log.readSegment(n);
      assert.ok(segment, `segment ${n} exists (no hole between floor and head)`);
      numbers.push(n);
      ids.push(...segment.jobs.map((job) => job.id));
    }
    return { numbers, ids };
  };

  beforeEach(async () => {
    f = await appFixture({ label: 'log' });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
    await f.close();
  });

  it('when two managers record jobs at once, then the log numbers stay contiguous and holds every job once', async () => {
    const other = createStore({
      url: backends().mongoUrl,
      dbName: f.dbName,
      timeoutMs: 3000,
      insertRetryMs: 3000,
    });
    try {
      const ids = Array.from({ length: 600 }, () => newJobId());
      // Alternating writers, in small waves: each wave is one segment per writer.
      for (let i = 0; i < ids.length; i += 60) {
        await Promise.all(
          ids.slice(i, i + 60).map((id, k) => (k % 2 === 0 ? f.store : other).insertJob(record(id))),
        );
      }
      const { numbers, ids: inLog } = await logged(f.store);
      assert.ok(numbers.length >= 20, `${numbers.length} segments`);
      assert.deepEqual(
        numbers,
        Array.from({ length: numbers.length }, (_, i) => i + 1),
      );
      assert.equal(inLog.length, ids.length, 'no job twice');
      assert.deepEqual(new Set(inLog), new Set(ids));
    } finally {
      await other.close();
    }
  });

  it('when a job is in the log but its record never landed, then listing leaves it out and the reconciler settles it', async () => {
    const ghost = newJobId();
    await f.store.log.appendSegment([{ id: ghost, type: 'hash', at: jobIdTime(ghost) }]);
    const real = newJobId();
    await f.store.insertJob(record(real));
    await f.store.saveResult(outcome(real));
    assert.deepEqual(
      (await list('')).jobs.map((j) => j.id),
      [real],
    );
    const reconciler = reconcilerFor(f);
    const report = await reconciler.pass(new Date(Date.now() + 1000));
    assert.equal(report.requeued, 0, 'a job never recorded is not put');
    assert.equal(report.settled, 2);
    const meta = await f.store.log.readLogMeta();
    assert.equal(meta.settledThrough, 2);
    const first = await f.store.log.readSegment(1);
    assert.deepEqual(first?.settled, [null]);
    assert.deepEqual(
      (await list('')).jobs.map((j) => [j.id, j.state]),
      [[real, 'completed']],
      'settled: the same answer',
    );
  });

  it('when a client walks with a cursor while jobs are added and created_before jumps back, then every job shows once in its place', async () => {
    const ids: string[] = [];
    for (let wave = 0; wave < 6; wave += 1) {
      const batch = Array.from({ length: 30 }, () => newJobId());
      ids.push(...batch);
      await Promise.all(batch.map((id) => f.store.insertJob(record(id))));
      await Promise.all(batch.map((id) => f.store.saveResult(outcome(id))));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(`?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
      if (seen.length === 14) await f.store.insertJob(record(newJobId())); // newer than the walk
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse(), 'newest first, each once, none of the newer ones');
    const middle = ids[100] as string;
    const before = await list(`?limit=5&created_before=${jobIdTime(middle).toISOString()}`);
    assert.ok(
      before.jobs.every((j) => jobIdTime(j.id) < jobIdTime(middle)),
      'only jobs created before the time',
    );
    assert.equal(before.jobs.length, 5);
    const bad = await request(f.app.callback()).get('/jobs?cursor=01a20000-0000-7000-8000-000000000000');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_QUERY');
  });

  it('when retention empties the oldest segments, then the floor rises once they are old enough, they are deleted a pass later, and keys go with their jobs', async () => {
    const old = new Date(Date.now() - 3_600_000);
    const oldIds = Array.from({ length: 3 }, () => newJobId());
    for (const id of oldIds) {
      await f.store.insertJob(record(id, { createdAt: old, idempotencyKey: `key-${id}` }));
      await f.store.claimIdempotencyKey(`key-${id}`, id, old, 60_000);
      await f.store.saveResult(outcome(id, old));
    }
    const keep = newJobId(); // failed: retention keeps it
    await f.store.insertJob(record(keep));
    await f.store.saveResult(outcome(keep, new Date(), { outcome: 'failed', error: { message: 'x' } }));
    const reconciler = reconcilerFor(f);
    await reconciler.pass(new Date(Date.now() + 1000));
    const retention = createRetention({ store: f.store, log: silent, retentionMs: 60_000 });
    const early = await retention.pass();
    assert.equal(early.removed, 3);
    assert.equal(early.floor, 1, 'segments appended moments ago stay, empty (job-log.ts, nextNumber)');
    // Ten minutes on: the floor rises over the three emptied segments.
    const tenMinutesOn = new Date(Date.now() + SEGMENT_KEEP_MS);
    const first = await retention.pass(tenMinutesOn);
    assert.equal(first.floor, 4, 'the three emptied segments are below the floor');
    assert.ok(await f.store.log.readSegment(1), 'still there for readers that read the old floor');
    for (const id of oldIds) {
      assert.equal(await f.store.findJob(id), null);
      assert.equal(await f.store.findResult(id), null);
      const key = await withMongo(f.dbName, (db) =>
        db.collection('idempotency_keys').findOne({ _id: `key-${id}` as never }),
      );
      assert.equal(key, null, 'its idempotency key went with it');
    }
    await retention.pass(tenMinutesOn);
    assert.equal(await f.store.log.readSegment(1), null, 'deleted one pass later');
    assert.deepEqual(
      (await list('')).jobs.map((j) => j.id),
      [keep],
    );
  });

  it('when a group job ended but its worker died before marking it, then progress still counts it and the next delivery marks it', async () => {
    const res = await request(f.app.callback())
      .post('/jobs/matrix')
      .set('Content-Type', 'application/json')
      .send({ template: { t: 1 }, axes: { a: [1, 2, 3] } });
    assert.equal(res.status, 202);
    const { group, jobs } = res.body as { group: string; jobs: Array<{ id: string }> };
    // What a worker leaves when it dies between storing the outcome and marking it.
    const unmarked = jobs[0]?.id as string;
    await f.store.saveResult(outcome(unmarked));
    const early = await request(f.app.callback()).get(`/groups/${group}`);
    assert.equal(early.body.finished, 1, 'read from the outcome itself while few jobs are open');
    const worker = await startWorker(loadWorkerConfig({ ...workerEnvFor(f), WORKER_CONCURRENCY: '2' }), {
      handlers: builtinHandlers(),
      log: silent,
    });
    workers.push(worker);
    const done = await waitFor('the group to finish', async () => {
      const g = await request(f.app.callback()).get(`/groups/${group}`);
      return g.body.done ? g.body : undefined;
    });
    assert.equal(done.finished, 3);
    assert.equal(done.results.length, 3);
    const marks = await f.store.readGroupMarks(group, Promise.resolve(jobs.map((j) => j.id)));
    assert.equal(marks.get(unmarked)?.state, 'completed', 'the delivery that found it stored marked it');
    // A finished group's answer is kept while no mark follows: a new mark (a retry) shows at once.
    const again = await request(f.app.callback()).get(`/groups/${group}`);
    assert.deepEqual(again.body, done, 'the same answer, served again');
    // What POST /jobs/<id>/retry does to a failed job (here to a completed one, for the test).
    assert.ok(await f.store.deleteResult(unmarked, 'completed'));
    await f.store.markGroupJob(group, { id: unmarked, state: 'queued', at: new Date() });
    const retried = await request(f.app.callback()).get(`/groups/${group}`);
    assert.equal(retried.body.done, false);
    assert.equal(retried.body.finished, 2);
  });

  it('when jobs complete, then GET /stats counts each once from the tallies, and a cancel counts as cancelled', async () => {
    const post = (body: string) =>
      request(f.app.callback()).post('/jobs').set('Content-Type', 'application/json').send(body);
    const delayed = await request(f.app.callback())
      .post('/jobs?delay=600')
      .set('Content-Type', 'application/json')
      .send('{"later":1}');
    assert.equal((await request(f.app.callback()).delete(`/jobs/${delayed.body.id}`)).status, 200);
    for (let i = 0; i < 20; i += 1) assert.equal((await post(JSON.stringify({ i }))).status, 202);
    const worker = await startWorker(loadWorkerConfig({ ...workerEnvFor(f), WORKER_CONCURRENCY: '4' }), {
      handlers: builtinHandlers(),
      log: silent,
    });
    workers.push(worker);
    const stats = await waitFor('20 completed in /stats', async () => {
      const res = await request(f.app.callback()).get('/stats');
      return res.body.totals.completed === 20 ? res.body : undefined;
    });
    assert.equal(stats.totals.cancelled, 1);
    await worker.stop(2000);
    workers.splice(0);
    const maintenance = startBackgroundPasses({
      queue: f.queues,
      store: f.store,
      log: silent,
      tubePrefix: f.tubePrefix,
      graceMs: 0,
      holder: 'test',
      intervalMs: 0,
      retentionMs: 0,
    });
    try {
      await maintenance.runOnce();
    } finally {
      await maintenance.stop();
    }
    const after = (await request(f.app.callback()).get('/stats')).body;
    assert.equal(after.totals.completed, 20, 'a fold changes nothing while tallies are live');
    const tallies = await withMongo(f.dbName, (db) => db.collection('tallies').find({}).toArray());
    assert.ok(
      tallies.some((t) => t.role === 'worker' && t.final === true),
      "the stopped worker's tally is final",
    );
  });

  it('when jobs fail, are retried and fail again, or are cancelled, then state filters list each once from their marks', async () => {
    const post = (query: string, body: string) =>
      request(f.app.callback()).post(`/jobs${query}`).set('Content-Type', 'application/json').send(body);
    const failing = [];
    for (let i = 0; i < 3; i += 1) {
      failing.push(
        (await post('?type=simulate&fail_rate=1&mean_ms=1&attempts=1', `{"f":${i}}`)).body.id as string,
      );
    }
    for (let i = 0; i < 20; i += 1) await post('', `{"ok":${i}}`);
    const later = (await post('?delay=600', '{"c":1}')).body.id as string;
    assert.equal((await request(f.app.callback()).delete(`/jobs/${later}`)).status, 200);
    const worker = await startWorker(
      loadWorkerConfig({ ...workerEnvFor(f), WORKER_CONCURRENCY: '4', WORKER_RETRY_BASE_MS: '0' }),
      {
        handlers: builtinHandlers(),
        log: silent,
      },
    );
    workers.push(worker);
    await waitFor('three failed', async () => (await list('?state=failed')).jobs.length === 3);
    // Retry one: it fails again; it must still show once.
    const again = failing[1] as string;
    assert.equal((await request(f.app.callback()).post(`/jobs/${again}/retry`)).status, 202);
    await waitFor('the retried job to fail again', async () => {
      const job = await request(f.app.callback()).get(`/jobs/${again}`);
      return job.body.state === 'failed' && job.body.attempts === 1 ? job.body : undefined;
    });
    const failed = await list('?state=failed');
    assert.deepEqual(new Set(failed.jobs.map((j) => j.id)), new Set(failing));
    assert.equal(failed.jobs.length, 3, 'no job twice');
    assert.equal(failed.jobs[0]?.id, again, 'newest failure first');
    const paged = await list('?state=failed&limit=2');
    assert.equal(paged.jobs.length, 2);
    const rest = await list(`?state=failed&limit=2&cursor=${paged.nextCursor}`);
    assert.deepEqual(
      [...paged.jobs, ...rest.jobs].map((j) => j.id),
      failed.jobs.map((j) => j.id),
    );
    assert.deepEqual(
      (await list('?state=cancelled')).jobs.map((j) => [j.id, j.state]),
      [[later, 'cancelled']],
    );
    assert.deepEqual((await list('?state=failed&type=hash')).jobs, [], 'the type filter applies');
  });

  it('when finished jobs pile up past one pass, then the maintenance passes follow each other after a fraction of their own time until the log is settled', async () => {
    // 6 segments of 10 finished jobs; a pass examines at most 10 jobs: one segment each.
    for (let wave = 0; wave < 6; wave += 1) {
      const ids = Array.from({ length: 10 }, () => newJobId());
      await Promise.all(ids.map((id) => f.store.insertJob(record(id))));
      await Promise.all(ids.map((id) => f.store.saveResult(outcome(id))));
    }
    const head = await f.store.log.logHead(await f.store.log.readLogMeta());
    assert.equal(head, 6);
    const intervalMs = 5000;
    const started = Date.now();
    const maintenance = startBackgroundPasses({
      queue: f.queues,
      store: f.store,
      log: silent,
      tubePrefix: f.tubePrefix,
      graceMs: 0,
      maxPerPass: 10,
      holder: 'test',
      intervalMs,
      retentionMs: 0,
    });
    try {
      await waitFor(
        'the whole log settled',
        async () => (await f.store.log.readLogMeta()).settledThrough === head,
        30_000,
        100,
      );
      const took = Date.now() - started;
      // One interval for the first pass, then five catch-up passes of a segment each, each
      // followed by a quarter of its own time: far less than six intervals (30 s), and less
      // than a fixed second between them (10 s).
      assert.ok(took < intervalMs + 4000, `settled in ${took} ms (a second between passes: over 10 s)`);
    } finally {
      await maintenance.stop();
    }
  });
});
