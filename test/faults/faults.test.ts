/**
 * The fault suite: each scenario runs real processes under a steady stream of POSTs,
 * injects a fault, recovers, drains, and checks the invariants (docs/reliability.md, "How one
 * outcome per job is guaranteed"): every job accepted with a 2xx ran at least once and has an outcome,
 * which exactly one run inserted (a redelivered job may run twice: delivery is at least
 * once), no outcome exists for a job never accepted, every hash is right, and no GET answered
 * 404 for an accepted id. Where a fault must hit a worker holding jobs, the scenario waits
 * until it does and then checks that another delivery finished them. Prints a table at the end.
 *
 * The fault durations below (a process kept stopped for N seconds) are part of each
 * scenario, not waits for a condition.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { jobIdTime } from '../../src/jobs/job-id.js';
import {
  freePort,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../../src/local/servers.js';
import { type SpawnedCli, spawnCli, tubeCounts, waitFor } from '../support/harness.js';
import { type Hit, Rig, type RigOptions, type ScenarioReport } from './rig.js';

const reports: Array<ScenarioReport & { hits: string }> = [];
const hold = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `hits`: what the fault hit, for the table. */
function assertInvariants(report: ScenarioReport, hits = ''): void {
  reports.push({ ...report, hits });
  assert.ok(report.accepted > 0, 'jobs were accepted');
  assert.equal(report.lost, 0, 'every accepted job has an outcome');
  assert.equal(report.neverRan, 0, 'every accepted job ran at least once');
  assert.equal(report.storedTwice, 0, 'no job had its outcome inserted by two runs');
  assert.equal(report.strays, 0, 'no outcome for a job never accepted');
  assert.equal(report.wrongHashes, 0, 'every hash is right');
  assert.equal(report.notFoundAnswers, 0, 'no GET answered 404 for an accepted id');
  assert.equal(report.counted, report.stored, 'GET /stats counts every stored outcome once');
}

/**
 * A starter of a second manager on the rig's backends, on a port of its own (each start a new
 * process on the same port, once the last one is gone).
 */
async function secondManager(r: Rig, env: Record<string, string> = {}) {
  const port = await freePort();
  return async () => {
    const other = spawnCli(['manager'], {
      ...r.env(),
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      RECONCILE_INTERVAL_SECONDS: '2',
      RECONCILE_GRACE_SECONDS: '3',
      ...env,
    });
    await waitForPort(port, 15_000, other.child);
    return other;
  };
}

/** The jobs the hit workers held, and those beanstalkd handed out again after the hit. */
function redeliveries(rig: Rig, hits: readonly Hit[]) {
  const held = hits.flatMap((hit) => hit.held.map((id) => ({ id, hit })));
  const again = held.filter(({ id, hit }) => rig.deliveries(id) > (hit.deliveredBefore.get(id) ?? 0));
  return { held, again };
}

/**
 * Each job a hit worker held was handed out again by beanstalkd after the hit and finished
 * by a run of another process that began at a later delivery (beanstalkd's `reserves` at 2
 * or more: stored there, or found stored). Fails naming the jobs that were not; returns how
 * many were held.
 */
function assertFinishedByAnotherDelivery(rig: Rig, hits: readonly Hit[]): number {
  const runs = rig.runs();
  const { held, again } = redeliveries(rig, hits);
  assert.ok(held.length > 0, 'the hit workers held jobs');
  const missing = held
    .filter(({ id, hit }) => {
      const hitProcess = rig.everyWorker.indexOf(hit.worker);
      const later = (runs.get(id) ?? []).filter((run) => run.attempt >= 2 && run.process !== hitProcess);
      return !again.some((a) => a.id === id) || later.length === 0;
    })
    .map(
      ({ id }) => `${id}: delivered ${rig.deliveries(id)} times, runs ${JSON.stringify(runs.get(id) ?? [])}`,
    );
  assert.deepEqual(missing, [], 'every job held when the worker was hit was finished by another delivery');
  return held.length;
}

/** The scenarios that cut an accept short run under both accept orders (ACCEPT_HOLD_SECONDS). */
const ACCEPT_ORDERS: ReadonlyArray<readonly [string, Record<string, string>]> = [
  ['', {}],
  [' (accept hold)', { ACCEPT_HOLD_SECONDS: '20' }],
];

describe('fault suite (real processes; npm run test:faults)', function () {
  this.timeout(240_000);
  let rig: Rig | undefined;

  const run = async (options: RigOptions = {}) => {
    rig = new Rig(options);
    await rig.start();
    rig.startLoad(60);
    await rig.acceptMore(100);
    return rig;
  };

  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  after(() => {
    if (reports.length === 0) return;
    const header = [
      'scenario',
      'accepted',
      'completed',
      'failed as expected',
      'lost',
      'stored twice',
      'runs',
      'ran 2+ times',
      'recovery s',
      'counted / stored',
      'what the fault hit',
    ];
    const rows = reports.map((r) =>
      [
        r.scenario,
        r.accepted,
        r.completed,
        r.failedAsExpected,
        r.lost,
        r.storedTwice,
        r.runs,
        r.ranTwice,
        r.recoverySeconds,
        `${r.counted} / ${r.stored}`,
        r.hits,
      ].map(String),
    );
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(
      `\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${rows.map(line).join('\n')}\n`,
    );
  });

  it('1. when workers are SIGKILLed mid-flow (before and after their outcome writes), then every job still ends once', async () => {
    const r = await run({ watchWorkers: true });
    const faultAt = Date.now();
    // The first kill lands while a held job has not stored its outcome yet, the second while
    // one has and waits for its delete, the third whenever the worker holds anything.
    const windows: Array<(held: string[], worker: SpawnedCli) => boolean> = [
      (held, worker) => held.some((id) => !Rig.hasStored(worker, id)),
      (held, worker) => held.some((id) => Rig.hasStored(worker, id)),
      () => true,
    ];
    const hits: Hit[] = [];
    for (const [round, index] of [0, 1, 0].entries()) {
      for (let attempt = 1; ; attempt += 1) {
        const hit = await r.hitWhileHolding(index, (worker) => worker.stop('SIGKILL'), windows[round]);
        hits.push(hit);
        r.startWorker(index);
        await r.acceptMore(60);
        // The second window lasts from the outcome's insert to the delete sent after its tally
        // commit, a few ms on a quick store: when that delete was already on its way at the
        // kill, the job was not held after all (hitWhileHolding drops it), so kill again.
        if (round !== 1 || hit.held.some((id) => Rig.hasStored(hit.worker, id)) || attempt === 5) break;
      }
    }
    const report = await r.drainAndCheck(`worker SIGKILL ×${hits.length}`, faultAt);
    const runs = r.runs();
    let after = 0;
    let before = 0;
    for (const { worker, held } of hits) {
      const hitProcess = r.everyWorker.indexOf(worker);
      for (const id of held) {
        const storedOwn = (runs.get(id) ?? []).some(
          (run) => run.process === hitProcess && run.ending === 'stored',
        );
        if (storedOwn) after += 1;
        else before += 1;
      }
    }
    const held = assertFinishedByAnotherDelivery(r, hits);
    assertInvariants(report, `${held} jobs held: ${before} before, ${after} after their outcome write`);
    assert.ok(before > 0 && after > 0, `both windows were hit (${before} before, ${after} after)`);
  });

  it("2. when a worker is frozen (SIGSTOP) past its jobs' TTR and then resumes, then every job still ends once", async () => {
    const r = await run({ watchWorkers: true, managerEnv: { JOB_TTR_SECONDS: '3' } });
    const hit = await r.hitWhileHolding(0, (worker) => {
      worker.child.kill('SIGSTOP');
    });
    const faultAt = Date.now();
    await r.acceptMore(100);
    await hold(5000);
    hit.worker.child.kill('SIGCONT');
    const report = await r.drainAndCheck('worker SIGSTOP past TTR', faultAt);
    // beanstalkd 1.12 keeps a frozen worker's jobs reserved past their TTR until its connection
    // acts (docs/known-limits.md; seen here with time-left -4 s): whether they are handed out
    // again, after the worker resumes, or finished by it alone is a race. The jobs it held must
    // end once either way (the invariants); how many went to another delivery is reported.
    const { held, again } = redeliveries(r, [hit]);
    assert.ok(held.length > 0, 'the frozen worker held jobs');
    assertInvariants(
      report,
      `${held.length} jobs held by the frozen worker, ${again.length} delivered again`,
    );
  });

  for (const [label, managerEnv] of ACCEPT_ORDERS) {
    it(`3. when beanstalkd is SIGKILLed and restarted on the same binlog, then everyone reconnects and every job ends once${label}`, async () => {
      const r = await run({ managerEnv });
      const faultAt = Date.now();
      await r.beanstalkd.kill();
      await hold(2000);
      r.beanstalkd = await startBeanstalkd({
        port: r.beanstalkPort,
        binlogDir: join(r.dataDir, 'binlog'),
        fsyncMs: 0,
      });
      await r.acceptMore(100);
      assertInvariants(await r.drainAndCheck(`beanstalkd SIGKILL, same binlog${label}`, faultAt));
    });
  }

  it('4. when beanstalkd restarts without its binlog, then the reconciler re-queues what was lost and no stale result is served', async () => {
    const r = await run({ workerEnv: { WORKER_WORK_DELAY_MS: '50-150', WORKER_CONCURRENCY: '2' } });
    // Let a backlog build so the lost binlog really loses queued jobs.
    await r.acceptMore(200);
    const faultAt = Date.now();
    await r.beanstalkd.kill();
    rmSync(join(r.dataDir, 'binlog'), { recursive: true, force: true });
    r.beanstalkd = await startBeanstalkd({
      port: r.beanstalkPort,
      binlogDir: join(r.dataDir, 'binlog2'),
      fsyncMs: 0,
    });
    await r.acceptMore(100);
    const report = await r.drainAndCheck('beanstalkd restart, binlog lost', faultAt);
    const requeued = r.manager
      .records()
      .filter((rec) => rec.msg === 're-queued a job whose beanstalkd copy was lost').length;
    assert.ok(requeued > 0, `the reconciler re-queued lost jobs (${requeued})`);
    assertInvariants(report);
  });

  it('5. when the MongoDB-wire server is down for 10 s, then GETs answer 503 (never 404), workers wait, and every job ends once', async () => {
    const r = await run();
    const faultAt = Date.now();
    await r.mongo.kill();
    await hold(10_000);
    const restartedAt = Date.now();
    r.mongo = await startMongoServer({ port: r.mongoPort, dataDir: join(r.dataDir, 'mongo') });
    await r.acceptMore(100);
    const report = await r.drainAndCheck('MongoDB down 10 s', faultAt);
    const unavailable = r.unavailableAt.filter((at) => at >= faultAt && at <= restartedAt).length;
    assertInvariants(report, `${unavailable} GETs answered 503 while it was down`);
    assert.ok(unavailable > 0, 'GETs of accepted ids answered 503 while MongoDB was down');
  });

  for (const [label, managerEnv] of ACCEPT_ORDERS) {
    it(`6. when the manager is SIGKILLed under a POST flood, then clients retrying with Idempotency-Key get one job each${label}`, async () => {
      const r = await run({ managerEnv });
      const faultAt = Date.now();
      for (let round = 0; round < 2; round += 1) {
        await r.manager.stop('SIGKILL');
        await r.startManager();
        await r.acceptMore(80);
      }
      assertInvariants(await r.drainAndCheck(`manager SIGKILL ×2${label}`, faultAt));
      const jobs = await r.withDb((db) => db.collection('jobs').countDocuments());
      assert.equal(jobs, r.accepted.size, 'one job record per accepted request');
      const located = await r.withDb((db) =>
        db.collection('jobs').countDocuments({ queue: { $exists: true } }),
      );
      assert.equal(
        located,
        managerEnv.ACCEPT_HOLD_SECONDS ? jobs : 0,
        'the records show which order accepted them',
      );
    });
  }

  it('7. when poison jobs fail on every attempt, then each is buried with a failed outcome after its maximum attempts while the others keep flowing', async () => {
    const r = await run({ workerEnv: { WORKER_RETRY_BASE_MS: '200' } });
    const faultAt = Date.now();
    const poison: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const body = `{"poison":${i}}`;
      const res = await fetch(`${r.base}/jobs?type=simulate&fail_rate=1&attempts=3&mean_ms=5`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      assert.equal(res.status, 202);
      const { id } = (await res.json()) as { id: string };
      poison.push(id);
      r.accepted.set(id, body);
    }
    await r.acceptMore(150);
    const report = await r.drainAndCheck('poison jobs ×10 (3 attempts)', faultAt, 10);
    assert.equal(report.failedAsExpected, 10, 'every poison job failed');
    const outcomes = await r.withDb((db) =>
      db
        .collection('results')
        .find({ _id: { $in: poison as never[] } })
        .toArray(),
    );
    assert.ok(
      outcomes.every((o) => o.outcome === 'failed' && o.attempt === 3),
      'failed after exactly its 3 attempts',
    );
    assert.equal((await tubeCounts(r.beanstalkPort, 'simulate')).buried, 10, 'each kept buried for a retry');
    assertInvariants(report);
  });

  it("8. when a worker's connection drops mid-job (the job is delivered twice), then every job still ends once", async () => {
    const r = await run({ watchWorkers: true });
    const faultAt = Date.now();
    const hits: Hit[] = [];
    for (let round = 0; round < 3; round += 1) {
      hits.push(await r.hitWhileHolding(0, () => r.proxies[0]!.proxy.cutAll()));
      await r.acceptMore(50);
    }
    const report = await r.drainAndCheck('worker connection cut ×3', faultAt);
    // A cut puts back what the connection held, and beanstalkd hands it out again, to the
    // other worker or to this one reconnected — unless the cut worker's own run gets there
    // first: it goes on, stores the outcome and deletes the job by id on its new connection,
    // which beanstalkd allows for a ready job. So some, not every, held job is delivered twice.
    const { held, again } = redeliveries(r, hits);
    assert.ok(held.length > 0, 'the worker held jobs at the cuts');
    assert.ok(again.length > 0, `beanstalkd delivered some of the ${held.length} held jobs again`);
    assertInvariants(report, `${held.length} jobs held at the cuts, ${again.length} delivered again`);
  });

  it('9. when one of two managers is SIGKILLed again and again around schedule ticks, then every tick still gets exactly one job, completed once', async () => {
    const r = new Rig();
    rig = r;
    await r.start();
    // A second manager on the same backends: both run the scheduler. It looks every 50 ms, so
    // it usually takes a tick first: the kills find it mid-tick.
    const startOther = await secondManager(r, { SCHEDULER_INTERVAL_MS: '50' });
    let other = await startOther();
    try {
      const payload = '{"fault": "tick"}';
      const made = await fetch(`${r.base}/schedules`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: `{"name":"fault-tick","every_seconds":1,"payload":${payload}}`,
      });
      assert.equal(made.status, 201);
      const { nextRunAt: first } = (await made.json()) as { nextRunAt: string };
      const faultAt = Date.now();
      let kills = 0;
      // For about 10 s: kill the second manager a moment after a tick (while it is likely
      // claiming or enqueueing it), start it again, and again.
      while (Date.now() - faultAt < 10_000) {
        const nextSecond = Math.ceil(Date.now() / 1000) * 1000;
        await hold(nextSecond - Date.now() + Math.floor(Math.random() * 60));
        await other.stop('SIGKILL');
        kills += 1;
        other = await startOther();
      }
      const killedUntil = Date.now();
      // Every tick of the period gets its job: those a killed manager held wait until its claim
      // runs out (5 s), so the schedule catches up a little after the last kill.
      await waitFor(
        'the schedule to catch up with the kills',
        () =>
          r.withDb(async (db) => {
            const progress = await db.collection('schedule_progress').findOne({ _id: 'fault-tick' as never });
            return progress?.lastTick !== undefined && progress.lastTick.getTime() >= killedUntil;
          }),
        30_000,
        200,
      );
      // Stop the ticks, and let any tick a manager was enqueueing finish (its claim ends).
      assert.equal((await fetch(`${r.base}/schedules/fault-tick/pause`, { method: 'POST' })).status, 200);
      await waitFor(
        'no manager to hold a claim on a tick',
        () =>
          r.withDb(async (db) => {
            const claims = await db.collection<{ expiresAt: Date }>('schedule_claims').find({}).toArray();
            return claims.every((claim) => claim.expiresAt.getTime() < Date.now());
          }),
        15_000,
        200,
      );
      const jobs = await r.withDb((db) =>
        db
          .collection<{ _id: string; schedule?: { tick: string } }>('jobs')
          .find({}, { projection: { payload: 0 } })
          .toArray(),
      );
      const byTick = new Map<string, string[]>();
      for (const job of jobs) {
        const tick = job.schedule?.tick ?? 'none';
        byTick.set(tick, [...(byTick.get(tick) ?? []), job._id]);
        r.accepted.set(job._id, payload);
      }
      const ticks = [...byTick.keys()].sort();
      const last = ticks[ticks.length - 1] ?? first;
      const missing: string[] = [];
      for (let t = Date.parse(first); t <= Date.parse(last); t += 1000) {
        const tick = new Date(t).toISOString();
        if (byTick.get(tick)?.length !== 1)
          missing.push(`${tick}: ${JSON.stringify(byTick.get(tick) ?? [])}`);
      }
      assert.deepEqual(missing, [], 'every tick from the first to the last has exactly one job');
      assert.equal(ticks[0], first, 'the first tick has its job');
      assert.ok(
        Date.parse(last) >= killedUntil,
        `ticks through the kills (${ticks.length}, the last ${last})`,
      );
      // A tick whose job came over 1.5 s late was redone after a killed manager's claim ran out.
      const late = jobs.filter(
        (job) => jobIdTime(job._id).getTime() - Date.parse(job.schedule?.tick ?? '') > 1500,
      ).length;
      const report = await r.drainAndCheck('manager SIGKILL at schedule ticks', faultAt);
      assertInvariants(
        report,
        `${kills} kills of one of two managers; ${ticks.length} ticks, one job each (${late} late)`,
      );
    } finally {
      await other.stop('SIGKILL');
    }
  });

  it('10. when workers and the manager are SIGKILLed while 100 chains of 3 (depends_on) run, then every job ends once, no child is handed out before its parent ended, and none runs twice for a flow’s sake', async () => {
    const r = new Rig({ watchWorkers: true });
    rig = r;
    await r.start();
    const CHAINS = 100;
    /** Child id → its parent's id. */
    const parentOf = new Map<string, string>();
    const posting = (async () => {
      const chain = async (c: number) => {
        let parent: string | undefined;
        for (let step = 0; step < 3; step += 1) {
          const body = JSON.stringify({ chain: c, step });
          const query = parent === undefined ? '' : `?depends_on=${parent}`;
          const id = await r.postUntilAccepted(`flow-${c}-${step}`, body, query);
          if (parent !== undefined) parentOf.set(id, parent);
          parent = id;
        }
      };
      for (let c = 0; c < CHAINS; c += 10)
        await Promise.all(Array.from({ length: 10 }, (_, i) => chain(c + i)));
    })();
    const faultAt = Date.now();
    const hits: Hit[] = [];
    let managerKills = 0;
    for (const index of [0, 1, 0]) {
      hits.push(await r.hitWhileHolding(index, (worker) => worker.stop('SIGKILL')));
      r.startWorker(index);
      await r.manager.stop('SIGKILL');
      managerKills += 1;
      await r.startManager();
      await hold(300);
    }
    await posting;
    const report = await r.drainAndCheck('worker and manager SIGKILL mid-flow (chains of 3)', faultAt);
    assertInvariants(report, '');
    assert.equal(parentOf.size, CHAINS * 2, 'every chain posted its two children');
    // Order: no child reached a worker before its parent's outcome was stored.
    const results = await r.withDb((db) =>
      db
        .collection<{ _id: string; outcome: string; finishedAt: Date }>('results')
        .find({}, { projection: { _id: 1, outcome: 1, finishedAt: 1 } })
        .toArray(),
    );
    const outcomeOf = new Map(results.map((result) => [String(result._id), result]));
    const early: string[] = [];
    for (const [child, parent] of parentOf) {
      const delivered = r.firstDeliveredAt(child);
      const parentEnded = outcomeOf.get(parent)?.finishedAt.getTime();
      if (delivered === undefined || parentEnded === undefined || delivered < parentEnded)
        early.push(`${child}: first delivered ${delivered}, its parent ${parent} ended ${parentEnded}`);
    }
    assert.deepEqual(early, [], 'every child was handed to a worker only after its parent ended');
    assert.ok(
      [...parentOf.keys()].every((id) => outcomeOf.get(id)?.outcome === 'completed'),
      'every child completed',
    );
    // Twice: only a job a killed worker held (delivered again: at least once), never a second real copy.
    const held = new Set(hits.flatMap((hit) => hit.held));
    const runs = r.runs();
    const twiceForAFlow = [...parentOf.keys()].filter(
      (id) => (runs.get(id)?.length ?? 0) > 1 && !held.has(id),
    );
    assert.deepEqual(twiceForAFlow, [], 'no child ran twice unless a killed worker held it');
    const logged = (msg: string) =>
      r.everyManager.flatMap((m) => m.lines).filter((line) => line.includes(`"msg":"${msg}"`)).length;
    const orphans = r.everyWorker
      .flatMap((w) => w.lines)
      .filter((line) =>
        line.includes('"msg":"deleting a released flow copy its queue ref does not name"'),
      ).length;
    reports[reports.length - 1]!.hits =
      `${hits.reduce((n, hit) => n + hit.held.length, 0)} jobs held by 3 killed workers; ${managerKills} manager kills; ` +
      `${logged('parents done; job released to its tube')} releases logged for ${parentOf.size} children; ${orphans} unnamed copies deleted`;
  });

  it("11. when both managers and a worker are SIGKILLed while a 600-job matrix with on_complete runs, then its completion job runs once, after the group's last end, counting all 600", async () => {
    const r = new Rig({ watchWorkers: true });
    rig = r;
    await r.start();
    // A second manager on the same backends: both run a flow loop that may hold the waiter.
    const startOther = await secondManager(r);
    let other = await startOther();
    try {
      const template = { suite: 'fault' };
      const res = await fetch(`${r.base}/jobs/matrix`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          template,
          axes: { a: Array.from({ length: 30 }, (_, i) => i), b: Array.from({ length: 20 }, (_, i) => i) },
          on_complete: {},
        }),
      });
      assert.equal(res.status, 202);
      const posted = (await res.json()) as {
        group: string;
        onComplete: { id: string; state: string };
        jobs: Array<{ id: string; combination: Record<string, number> }>;
      };
      for (const job of posted.jobs)
        r.accepted.set(job.id, JSON.stringify({ ...template, ...job.combination }));
      const completion = posted.onComplete.id;
      r.accepted.set(completion, '{}');
      r.notHashed.add(completion);
      const faultAt = Date.now();
      const hits: Hit[] = [];
      let managerKills = 0;
      for (const index of [0, 1]) {
        hits.push(await r.hitWhileHolding(index, (worker) => worker.stop('SIGKILL')));
        r.startWorker(index);
        await r.manager.stop('SIGKILL');
        await other.stop('SIGKILL');
        managerKills += 2;
        await r.startManager();
        other = await startOther();
        await hold(300);
      }
      const report = await r.drainAndCheck(
        'managers and a worker SIGKILLed under a group with on_complete',
        faultAt,
      );
      assertInvariants(report, '');
      const results = await r.withDb((db) =>
        db
          .collection<{ _id: string; outcome: string; finishedAt: Date; result?: Record<string, unknown> }>(
            'results',
          )
          .find({}, { projection: { _id: 1, outcome: 1, finishedAt: 1, result: 1 } })
          .toArray(),
      );
      const summary = results.find((result) => String(result._id) === completion);
      assert.equal(summary?.outcome, 'completed');
      assert.deepEqual(
        summary?.result?.counts,
        { completed: 600 },
        'the summary saw every job of the group end',
      );
      const lastMemberEnd = Math.max(
        ...results
          .filter((result) => String(result._id) !== completion)
          .map((result) => result.finishedAt.getTime()),
      );
      const delivered = r.firstDeliveredAt(completion);
      assert.ok(
        delivered !== undefined && delivered >= lastMemberEnd,
        `the completion job reached a worker (${delivered}) only after the last member ended (${lastMemberEnd})`,
      );
      const held = new Set(hits.flatMap((hit) => hit.held));
      const runs = r.runs().get(completion)?.length ?? 0;
      assert.ok(runs === 1 || (runs > 1 && held.has(completion)), `the completion job ran ${runs} time(s)`);
      reports[reports.length - 1]!.hits =
        `${hits.reduce((n, hit) => n + hit.held.length, 0)} jobs held by 2 killed workers; ${managerKills} manager kills (of two); the completion job ran ${runs} time(s)`;
    } finally {
      await other.stop('SIGKILL');
    }
  });

  it('12. when one of three beanstalkd servers is SIGKILLed under load and comes back without its binlog, then its jobs move to the others and every job completes once', async () => {
    const r = await run({
      workers: 3,
      moreBeanstalkd: 2,
      managerEnv: { BEANSTALK_SERVER_GONE_SECONDS: '3' },
      // 9 slots of 150–250 ms: at most 45 jobs/s against a load of 60/s, so a backlog builds.
      workerEnv: { WORKER_WORK_DELAY_MS: '150-250', WORKER_CONCURRENCY: '3' },
    });
    const lost = r.moreBeanstalkd[0] as LocalServer;
    const port = r.moreBeanstalkPorts[0] as number;
    // A backlog on every server, so the lost one really holds ready jobs when it dies (with workers
    // keeping up, it may hold none, and there is nothing to move).
    await r.acceptMore(200);
    await waitFor(
      'ready jobs waiting on the server to be lost',
      async () => (await tubeCounts(port, 'hash')).ready >= 20,
      30_000,
      100,
    );
    const faultAt = Date.now();
    await lost.kill();
    rmSync(join(r.dataDir, 'binlog-0'), { recursive: true, force: true });
    // Down past BEANSTALK_SERVER_GONE_SECONDS while the load goes on, then back, empty.
    await r.acceptMore(150);
    // Past BEANSTALK_SERVER_GONE_SECONDS (counted from when the manager's watch, looking every
    // second, saw it fail), so the reconciler moves its jobs while it is down.
    await hold(6000);
    r.moreBeanstalkd[0] = await startBeanstalkd({
      port,
      binlogDir: join(r.dataDir, 'binlog-0b'),
      fsyncMs: 0,
    });
    await r.acceptMore(100);
    const report = await r.drainAndCheck('one of 3 beanstalkd servers SIGKILLed, binlog lost', faultAt);
    assertInvariants(report);
    const logged = (msg: string) => r.manager.records().filter((rec) => rec.msg === msg).length;
    // Put again while the server was gone, or once it was back without them.
    const moved = logged('re-queued a job of a beanstalkd server that is gone');
    const lostCopies = logged('re-queued a job whose beanstalkd copy was lost');
    assert.ok(
      moved + lostCopies > 0,
      `the reconciler put the lost server's jobs again (${moved} + ${lostCopies})`,
    );
    reports[reports.length - 1]!.hits =
      `${moved} jobs moved off the gone server, ${lostCopies} put again after it came back empty`;
  });
});
