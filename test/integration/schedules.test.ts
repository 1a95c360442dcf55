/**
 * Schedules ticking on real servers: two managers' schedulers on one database and one set of
 * tubes, an in-process worker, and what MongoDB and beanstalkd hold afterwards — one job per
 * tick, each completed once; pause, resume, delete; a scheduler that dies between a tick's
 * accept and its advance; catch-up after an outage.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers } from '../../src/handlers/index.js';
import { silentLogger } from '../../src/log.js';
import { startScheduler } from '../../src/manager/background/scheduler.js';
import { createJobService } from '../../src/manager/jobs/accept/accept.js';
import type { Store } from '../../src/store/index.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, tubeCounts, waitFor, withMongo } from '../support/harness.js';
import { defaultHash } from '../support/stored-hashes.js';

const DAY_MS = 86_400_000;
const log = silentLogger();

type Scheduler = ReturnType<typeof startScheduler>;
type StoredJob = { _id: string; schedule?: { name: string; tick: string } };

describe('schedules ticking on real servers', function () {
  this.timeout(60_000);
  let f: AppFixture;
  let g: AppFixture;
  let worker: RunningWorker | undefined;
  const schedulers: Scheduler[] = [];

  /** A manager's scheduler: on `fx`'s store (or one wrapping it), accepting as that manager does. */
  const schedulerOn = (fx: AppFixture, intervalMs: number, store: Store = fx.store, holder?: string) => {
    const jobs = createJobService({
      queue: fx.queues,
      store,
      log,
      tubePrefix: fx.tubePrefix,
      defaultOptions: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
      maxJobSize: () => 65_535,
      idempotencyTtlMs: DAY_MS,
    });
    const scheduler = startScheduler({
      store,
      jobs,
      log,
      intervalMs,
      idempotencyTtlMs: DAY_MS,
      retentionMs: 0,
      ...(holder ? { holder } : {}),
    });
    schedulers.push(scheduler);
    return scheduler;
  };
  /** POSTs a schedule (a raw body is sent as it is). */
  const create = async (body: Record<string, unknown> | string) => {
    const res = await request(f.app.callback())
      .post('/schedules')
      .set('Content-Type', 'application/json')
      .send(typeof body === 'string' ? body : JSON.stringify(body));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { name: string; nextRunAt: string; nextRuns: string[] };
  };
  const view = async (name: string, app: AppFixture = f) =>
    (await request(app.app.callback()).get(`/schedules/${name}`)).body as Record<string, unknown> & {
      lastTick?: string;
      lastJobId?: string;
      nextRunAt: string | null;
      paused: boolean;
    };
  /** The jobs of a schedule in MongoDB, by tick. */
  const jobsByTick = async (name: string) => {
    const jobs = await withMongo(f.dbName, (db) =>
      db
        .collection<StoredJob>('jobs')
        .find({ 'schedule.name': name }, { projection: { payload: 0 } })
        .toArray(),
    );
    const byTick = new Map<string, string[]>();
    for (const job of jobs) {
      const tick = job.schedule?.tick ?? '';
      byTick.set(tick, [...(byTick.get(tick) ?? []), job._id]);
    }
    return byTick;
  };
  const startWorking = async () => {
    const config = loadWorkerConfig({ ...workerEnvFor(f), WORKER_CONCURRENCY: '2' });
    worker = await startWorker(config, {
      handlers: builtinHandlers({ workerName: 'sched', simulate: { meanMs: 1, failRate: 0 } }),
      log,
    });
  };
  /** Every tick from `first` to `last`, a second apart, has exactly one job; answers the job ids. */
  const assertOneJobPerTick = (byTick: Map<string, string[]>, first: string, last: string) => {
    const ids: string[] = [];
    for (let t = Date.parse(first); t <= Date.parse(last); t += 1000) {
      const tick = new Date(t).toISOString();
      assert.equal(byTick.get(tick)?.length, 1, `tick ${tick}: ${JSON.stringify(byTick.get(tick) ?? [])}`);
      ids.push(...(byTick.get(tick) ?? []));
    }
    assert.equal(
      ids.length,
      byTick.size,
      `no job outside ${first}..${last}: ${[...byTick.keys()].join(' ')}`,
    );
    return ids;
  };

  beforeEach(async () => {
    f = await appFixture({ label: 'sched' });
    g = await appFixture({ label: 'sched', share: { tubePrefix: f.tubePrefix, dbName: f.dbName } });
  });
  afterEach(async () => {
    await Promise.all(schedulers.splice(0).map((s) => s.stop()));
    await worker?.stop(2000);
    worker = undefined;
    await g.close();
    await f.close();
  });

  it('when two managers run a schedule every second, then each tick gets exactly one job, queued once and completed once', async () => {
    const payload = '{"report": "every second", "n": [1, 2]}';
    const made = await create(`{"name": "every-second", "every_seconds": 1, "payload": ${payload} }`);
    await startWorking();
    schedulerOn(f, 50);
    schedulerOn(g, 50);
    const first = made.nextRunAt;
    await waitFor(
      'five ticks enqueued',
      async () => {
        const last = (await view('every-second')).lastTick;
        return last !== undefined && Date.parse(last) >= Date.parse(first) + 4000;
      },
      20_000,
    );
    await Promise.all(schedulers.splice(0).map((s) => s.stop()));
    const current = await view('every-second');
    const ids = assertOneJobPerTick(await jobsByTick('every-second'), first, current.lastTick ?? '');
    assert.ok(ids.length >= 5, `${ids.length} ticks`);
    assert.ok(current.lastJobId && ids.includes(current.lastJobId), 'lastJobId is the last tick’s job');

    const results = await waitFor('every tick job completed', async () => {
      const found = await withMongo(f.dbName, (db) =>
        db
          .collection<{ _id: string; outcome: string; result?: { hash?: string } }>('results')
          .find({})
          .toArray(),
      );
      return found.length >= ids.length ? found : undefined;
    });
    assert.deepEqual(results.map((r) => r._id).sort(), [...ids].sort(), 'one outcome per tick job, no other');
    for (const r of results) {
      assert.equal(r.outcome, 'completed');
      // The schedule's payload is the text as sent (spaces kept), hashed as POST /jobs would.
      assert.equal(r.result?.hash, defaultHash(payload));
    }
    const tube = await tubeCounts(backends().beanstalk.port, f.tube);
    assert.equal(tube.total, ids.length, 'one copy put in beanstalkd per tick');
    assert.equal(tube.current, 0, 'and none left');
    const job = await request(f.app.callback()).get(`/jobs/${ids[0]}`);
    assert.equal(job.status, 200);
    assert.deepEqual(job.body.schedule, { name: 'every-second', tick: first });
    assert.equal(job.body.state, 'completed');
  });

  it('when a schedule is paused, then no tick is enqueued; when resumed, then ticks go on from after the resume and the paused ones get no job', async () => {
    const made = await create({ name: 'pausing', every_seconds: 1, payload: { p: 1 } });
    const a = schedulerOn(f, 0);
    const b = schedulerOn(g, 0);
    await waitFor('the first tick enqueued', async () => (await a.runOnce()).enqueued > 0 || undefined);
    const paused = await request(g.app.callback()).post('/schedules/pausing/pause');
    assert.equal(paused.status, 200);
    assert.equal(paused.body.paused, true);
    assert.equal(paused.body.nextRunAt, null);
    const before = await jobsByTick('pausing');
    const pausedAt = Date.now();
    // Two ticks pass while paused; neither scheduler enqueues them.
    await waitFor('two ticks to pass', () => Date.now() >= pausedAt + 2000, 5000);
    assert.deepEqual(
      [await a.runOnce(), await b.runOnce()].map((r) => r.enqueued),
      [0, 0],
    );
    assert.equal((await jobsByTick('pausing')).size, before.size, 'no job while paused');

    const resumedAt = Date.now();
    const resumed = await request(f.app.callback()).post('/schedules/pausing/resume');
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.paused, false);
    assert.ok(Date.parse(resumed.body.nextRunAt) > resumedAt, 'the next run is after the resume');
    await waitFor('a tick after the resume', async () => (await b.runOnce()).enqueued > 0 || undefined);
    const after = await jobsByTick('pausing');
    const ticks = [...after.keys()].map((t) => Date.parse(t));
    assert.ok(
      ticks.every((t) => t < pausedAt || t > resumedAt),
      'no job for a tick while paused',
    );
    assert.ok(
      ticks.some((t) => t > resumedAt),
      'ticks go on after the resume',
    );
    assert.ok(ticks.every((t) => t >= Date.parse(made.nextRunAt)));
    assert.ok([...after.values()].every((ids) => ids.length === 1));
  });

  it('when a schedule is deleted, then no tick is enqueued any more and the jobs it made stay', async () => {
    await create({ name: 'doomed', every_seconds: 1, payload: { d: 1 } });
    const a = schedulerOn(f, 0);
    await waitFor('a tick enqueued', async () => (await a.runOnce()).enqueued > 0 || undefined);
    const made = await jobsByTick('doomed');
    const deleted = await request(g.app.callback()).delete('/schedules/doomed');
    assert.deepEqual([deleted.status, deleted.body], [200, { name: 'doomed', deleted: true }]);
    const deletedAt = Date.now();
    await waitFor('a tick to pass', () => Date.now() >= deletedAt + 1100, 5000);
    assert.equal((await a.runOnce()).enqueued, 0);
    assert.deepEqual(await jobsByTick('doomed'), made, 'its jobs stay, no new one');
    assert.equal((await request(f.app.callback()).get('/schedules/doomed')).status, 404);
  });

  it('when a scheduler dies between a tick’s accept and its advance, then a restarted one redoes the tick into the same job and goes on without a duplicate', async () => {
    const made = await create({ name: 'restart', every_seconds: 1, payload: { r: 1 } });
    // The first scheduler "dies" at its first advance: the tick's job exists, the schedule still
    // names the tick, and its claim on the tick stays (a dead process gives nothing back).
    let died = false;
    const dying: Store = {
      ...f.store,
      saveScheduleProgress: async (doc) => {
        if (!died && doc.lastJobId !== undefined) {
          died = true;
          throw new Error('killed between accept and advance');
        }
        return f.store.saveScheduleProgress(doc);
      },
      releaseTick: async () => undefined,
    };
    const first = schedulerOn(f, 0, dying, 'manager-1');
    await waitFor('the first tick accepted', async () => {
      await first.runOnce();
      return died;
    });
    await first.stop();
    const orphaned = await jobsByTick('restart');
    assert.deepEqual([...orphaned.keys()], [made.nextRunAt], 'the tick got its job');
    assert.equal((await view('restart')).lastTick, undefined, 'but the schedule did not move on');

    // A new manager on the same database: it waits out the dead one's claim, then redoes the tick.
    schedulerOn(g, 50, g.store, 'manager-2');
    const redone = await waitFor(
      'the schedule to go on',
      async () => {
        const current = await view('restart', g);
        return current.lastTick !== undefined &&
          Date.parse(current.lastTick) >= Date.parse(made.nextRunAt) + 2000
          ? current
          : undefined;
      },
      20_000,
    );
    await Promise.all(schedulers.splice(0).map((s) => s.stop()));
    const byTick = await jobsByTick('restart');
    assert.deepEqual(
      byTick.get(made.nextRunAt),
      orphaned.get(made.nextRunAt),
      'the redone tick has its first job',
    );
    assertOneJobPerTick(byTick, made.nextRunAt, (await view('restart')).lastTick ?? '');
    assert.ok(redone.lastJobId);
  });

  it('when a manager dies after recording a tick’s job but before queueing it, and the schedule is paused meanwhile, then another manager still queues that job, and only it', async () => {
    const made = await create({ name: 'abandoned', every_seconds: 1, payload: { a: 1 } });
    // The dead manager: its insert of the job lands, then it never gets further.
    let recorded = false;
    const dying: Store = {
      ...f.store,
      insertJob: async (doc) => {
        await f.store.insertJob(doc);
        recorded = true;
        return new Promise(() => undefined);
      },
    };
    const jobs = createJobService({
      queue: f.queues,
      store: dying,
      log,
      tubePrefix: f.tubePrefix,
      defaultOptions: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
      maxJobSize: () => 65_535,
      idempotencyTtlMs: DAY_MS,
    });
    // Never stopped: its pass hangs for good, as a killed process's would.
    const dead = startScheduler({
      store: dying,
      jobs,
      log,
      intervalMs: 0,
      idempotencyTtlMs: DAY_MS,
      retentionMs: 0,
      holder: 'dead-manager',
    });
    await waitFor('the dead manager to record the first tick’s job', () => {
      void dead.runOnce();
      return recorded;
    });
    assert.equal((await request(f.app.callback()).post('/schedules/abandoned/pause')).status, 200);
    const [id] = (await jobsByTick('abandoned')).get(made.nextRunAt) ?? [];
    assert.ok(id, 'the tick’s job is recorded');
    assert.equal((await request(f.app.callback()).get(`/jobs/${id}`)).body.queue, null, 'but not queued');

    const other = schedulerOn(g, 0, g.store, 'manager-2');
    await waitFor(
      'another manager to finish the tick once the dead one’s claim runs out',
      async () => {
        await other.runOnce();
        return (await request(g.app.callback()).get(`/jobs/${id}`)).body.queue?.tube === f.tube;
      },
      15_000,
      200,
    );
    const byTick = await jobsByTick('abandoned');
    assert.deepEqual([...byTick.entries()], [[made.nextRunAt, [id]]], 'that job, and no other');
    assert.equal((await tubeCounts(backends().beanstalk.port, f.tube)).total, 1, 'queued once');
    const current = await view('abandoned');
    assert.deepEqual([current.paused, current.lastTick, current.lastJobId], [true, made.nextRunAt, id]);
  });

  it('when managers were down for hours, then catch_up once enqueues the latest missed tick once and catch_up skip enqueues none', async () => {
    // An hourly pattern whose latest tick was two minutes ago: missed (more than a minute late).
    const latest = new Date(Math.floor(Date.now() / 1000) * 1000 - 120_000);
    const cron = `${latest.getUTCSeconds()} ${latest.getUTCMinutes()} * * * *`;
    await create({ name: 'catch-once', cron, payload: { c: 'once' } });
    await create({ name: 'catch-skip', cron, payload: { c: 'skip' }, catch_up: 'skip' });
    // The outage: the schedules still wait for a tick three hours before the latest one.
    const stale = new Date(latest.getTime() - 3 * 3_600_000);
    const gens = await withMongo(f.dbName, (db) => db.collection('schedules').find({}).toArray());
    await withMongo(f.dbName, (db) =>
      db
        .collection('schedule_progress')
        .insertMany(
          gens.map((doc) => ({ _id: doc._id, gen: doc.gen, nextTick: stale, updatedAt: new Date() })),
        ),
    );
    const a = schedulerOn(f, 0);
    const b = schedulerOn(g, 0);
    const reports = [
      ...(await Promise.all([a.runOnce(), b.runOnce()])),
      ...(await Promise.all([a.runOnce(), b.runOnce()])),
    ];
    assert.equal(
      reports.reduce((sum, r) => sum + r.enqueued, 0),
      1,
      JSON.stringify(reports),
    );

    const once = await jobsByTick('catch-once');
    assert.deepEqual([...once.keys()], [latest.toISOString()], 'once: the latest missed tick');
    assert.equal(once.get(latest.toISOString())?.length, 1);
    const onceView = await view('catch-once');
    assert.equal(onceView.lastTick, latest.toISOString());
    assert.equal(onceView.nextRunAt, new Date(latest.getTime() + 3_600_000).toISOString());
    assert.deepEqual((onceView.lastSkipped as { from: string; to: string }).from, stale.toISOString());

    assert.equal((await jobsByTick('catch-skip')).size, 0, 'skip: no job for the missed ticks');
    const skipView = await view('catch-skip');
    assert.equal(skipView.lastTick, undefined);
    assert.equal(
      skipView.nextRunAt,
      new Date(latest.getTime() + 3_600_000).toISOString(),
      'skip waits for the next tick',
    );
    assert.deepEqual(skipView.lastSkipped, {
      from: stale.toISOString(),
      to: new Date(latest.getTime() + 3_600_000).toISOString(),
      at: (skipView.lastSkipped as { at: string }).at,
    });
  });
});
