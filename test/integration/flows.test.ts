/**
 * Flows (`depends_on`, docs/flows-design.md) on real servers: an app, an in-process worker
 * and a flow loop on the fixture's tube prefix and database. Handlers record when each job's
 * run started and ended, so order and "once" are checked from the runs themselves.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import type { Handler } from '../../src/handlers/index.js';
import { decodeEnvelope } from '../../src/jobs/envelope.js';
import { newJobId } from '../../src/jobs/job-id.js';
import { flowTube, queueCopy } from '../../src/jobs/queue-copy.js';
import { silentLogger } from '../../src/log.js';
import { createReconciler } from '../../src/manager/background/reconciler.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, startFixtureFlowLoop, workerEnvFor } from '../support/app-fixture.js';
import { backends, beanstalkRaw, tubeCounts, waitFor } from '../support/harness.js';

interface RunRecord {
  id: string;
  startedAt: number;
  endedAt?: number;
}

/** A handler that sleeps `ms`, throws when `fail`, and records each run. */
function recordingHandler(runs: RunRecord[]): Handler {
  return async (payload, context) => {
    const run: RunRecord = { id: context.jobId, startedAt: Date.now() };
    runs.push(run);
    const { ms = 0, fail = false } = payload as { ms?: number; fail?: boolean };
    await new Promise((resolve) => setTimeout(resolve, ms));
    run.endedAt = Date.now();
    if (fail) throw new Error('failing on purpose');
    return { ok: true };
  };
}

describe('flows: depends_on on real servers', function () {
  this.timeout(90_000);
  let f: AppFixture;
  let port: number;
  let runs: RunRecord[];
  const stops: Array<() => Promise<void>> = [];

  const post = (payload: unknown, query = '') =>
    request(f.app.callback())
      .post(`/jobs${query}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(payload));
  const view = async (id: string) => (await request(f.app.callback()).get(`/jobs/${id}`)).body;
  const ended = (id: string, timeoutMs = 45_000) =>
    waitFor(
      `job ${id} to end`,
      async () => {
        const v = await view(id);
        return ['completed', 'failed', 'cancelled'].includes(v.state) ? v : undefined;
      },
      timeoutMs,
      100,
    );
  const runsOf = (id: string) => runs.filter((run) => run.id === id);

  async function startWorkerAndLoop(): Promise<void> {
    const worker: RunningWorker = await startWorker(
      loadWorkerConfig({ ...workerEnvFor(f), WORKER_CONCURRENCY: '4', WORKER_NAME: 'flows' }),
      { handlers: new Map([['hash', recordingHandler(runs)]]), log: silentLogger() },
    );
    stops.push(() => worker.stop(2000));
    startLoop();
  }

  function startLoop(): void {
    stops.push(startFixtureFlowLoop(f));
  }

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(async () => {
    runs = [];
    f = await appFixture({ label: 'flows', maxAttempts: 1 });
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await f.close();
  });

  it('when a chain A → B → C and a fan-in D ← {A, B} are posted, then each runs once, after its parents completed', async () => {
    await startWorkerAndLoop();
    const a = (await post({ ms: 300 })).body.id as string;
    const b = await post({ ms: 200 }, `?depends_on=${a}`);
    assert.equal(b.status, 202);
    assert.equal(b.body.state, 'waiting');
    const c = (await post({ ms: 0 }, `?depends_on=${b.body.id}`)).body.id as string;
    const d = (await post({ ms: 0 }, `?depends_on=${a},${b.body.id}`)).body.id as string;
    for (const id of [a, b.body.id, c, d]) assert.equal((await ended(id)).state, 'completed');
    for (const id of [a, b.body.id, c, d]) assert.equal(runsOf(id).length, 1, `job ${id} ran once`);
    const [ra, rb, rc, rd] = [a, b.body.id, c, d].map((id) => runsOf(id)[0] as RunRecord);
    assert.ok((rb as RunRecord).startedAt >= (ra as RunRecord).endedAt!, 'B started after A ended');
    assert.ok((rc as RunRecord).startedAt >= (rb as RunRecord).endedAt!, 'C started after B ended');
    assert.ok(
      (rd as RunRecord).startedAt >= Math.max((ra as RunRecord).endedAt!, (rb as RunRecord).endedAt!),
    );
    const shown = await view(d);
    assert.deepEqual(shown.dependsOn, [
      { id: a, state: 'completed' },
      { id: b.body.id, state: 'completed' },
    ]);
    assert.equal(shown.onParentFailure, 'fail');
    assert.equal((await tubeCounts(port, flowTube(f.tubePrefix))).current, 0, 'no waiter left behind');
  });

  it('when a waiting child’s parent ends between two looks, then the child is kicked and starts within about a second, not at its next look', async () => {
    await startWorkerAndLoop();
    // Looks at about 0, 1, 3, 7 and 15 s: a parent ending at about 8 s would leave its child
    // waiting until the look at 15 s without the follower.
    const parent = (await post({ ms: 8_000 })).body.id as string;
    const child = (await post({ ms: 0 }, `?depends_on=${parent}`)).body.id as string;
    assert.equal((await ended(child)).state, 'completed');
    const [rp, rc] = [runsOf(parent)[0], runsOf(child)[0]] as RunRecord[];
    const gap = (rc as RunRecord).startedAt - (rp as RunRecord).endedAt!;
    assert.ok(gap >= 0, 'the child started after its parent ended');
    assert.ok(gap < 3_000, `the child started ${gap} ms after its parent ended (next look: about 7 s later)`);
    assert.equal(runsOf(child).length, 1);
    assert.equal((await tubeCounts(port, flowTube(f.tubePrefix))).current, 0, 'no waiter left behind');
  });

  it('when a parent fails, then its child fails naming it, and the child’s own child fails too, none of them running', async () => {
    await startWorkerAndLoop();
    const a = (await post({ fail: true })).body.id as string;
    const b = (await post({}, `?depends_on=${a}`)).body.id as string;
    const c = (await post({}, `?depends_on=${b}`)).body.id as string;
    assert.equal((await ended(a)).state, 'failed');
    const vb = await ended(b);
    assert.equal(vb.state, 'failed');
    assert.match(vb.error.message, new RegExp(`parent ${a} failed`));
    const vc = await ended(c);
    assert.equal(vc.state, 'failed');
    assert.match(vc.error.message, new RegExp(`parent ${b} failed`));
    assert.equal(runsOf(b).length + runsOf(c).length, 0);
    // Marked among the failed just after the outcome is stored (and counted).
    await waitFor('a, b and c listed as failed', async () => {
      const listed = (await request(f.app.callback()).get('/jobs?state=failed')).body.jobs.map(
        (j: { id: string }) => j.id,
      );
      return [a, b, c].every((id) => listed.includes(id));
    });
  });

  it('when a parent is cancelled, then its child is cancelled; with on_parent_failure=run, its other child runs anyway', async () => {
    await startWorkerAndLoop();
    const a = (await post({}, '?delay=600')).body.id as string;
    const b = (await post({}, `?depends_on=${a}`)).body.id as string;
    const c = (await post({}, `?depends_on=${a}&on_parent_failure=run`)).body.id as string;
    assert.equal((await request(f.app.callback()).delete(`/jobs/${a}`)).status, 200);
    const vb = await ended(b);
    assert.equal(vb.state, 'cancelled');
    assert.match(vb.error.message, new RegExp(`parent ${a} cancelled`));
    const vc = await ended(c);
    assert.equal(vc.state, 'completed');
    assert.equal(vc.onParentFailure, 'run');
    assert.deepEqual(vc.dependsOn, [{ id: a, state: 'cancelled' }]);
    assert.equal(runsOf(b).length, 0);
    assert.equal(runsOf(c).length, 1);
  });

  it('when a waiting child is cancelled, then its waiter is gone and it never runs, even after its parent completes', async () => {
    await startWorkerAndLoop();
    const a = (await post({ ms: 1500 })).body.id as string;
    const b = (await post({}, `?depends_on=${a}`)).body.id as string;
    const waiting = await view(b);
    assert.equal(waiting.state, 'waiting');
    assert.deepEqual(
      waiting.dependsOn.map((p: { id: string }) => p.id),
      [a],
    );
    assert.ok(['queued', 'running'].includes(waiting.dependsOn[0].state));
    const listed = (await request(f.app.callback()).get('/jobs?state=waiting')).body.jobs;
    assert.deepEqual(
      listed.map((j: { id: string; state: string }) => [j.id, j.state]),
      [[b, 'waiting']],
    );
    const cancel = await request(f.app.callback()).delete(`/jobs/${b}`);
    assert.equal(cancel.status, 200);
    assert.equal((await ended(a)).state, 'completed');
    // Past the child's next looks: the waiter, if the cancel raced the loop, is dropped.
    await waitFor(
      'no waiter left',
      async () => (await tubeCounts(port, flowTube(f.tubePrefix))).current === 0,
    );
    assert.equal((await view(b)).state, 'cancelled');
    assert.equal(runsOf(b).length, 0);
    assert.equal((await tubeCounts(port, `${f.tubePrefix}hash`)).current, 0);
  });

  it('when depends_on is malformed or names unknown jobs, then 400 or 422 with a stable code, and nothing is stored or queued', async () => {
    const a = (await post({})).body.id as string;
    const bad = [
      ['not-an-id', 'INVALID_DEPENDS_ON', 400],
      [`${a},${a}`, 'INVALID_DEPENDS_ON', 400],
      [Array.from({ length: 101 }, () => newJobId()).join(','), 'INVALID_DEPENDS_ON', 400],
      ['', 'INVALID_DEPENDS_ON', 400],
      [newJobId(), 'UNKNOWN_PARENT', 422],
      [`${a},${newJobId()}`, 'UNKNOWN_PARENT', 422],
    ] as const;
    for (const [value, code, status] of bad) {
      const res = await request(f.app.callback())
        .post('/jobs')
        .set('Content-Type', 'application/json')
        .set('X-Job-Depends-On', value)
        .send('{}');
      // An empty header reads as absent: the job is accepted without parents.
      if (value === '') {
        assert.equal(res.status, 202);
        assert.equal(res.body.state, 'queued');
        continue;
      }
      assert.equal(res.status, status, `${value.slice(0, 40)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code);
    }
    const policy = await post({}, `?depends_on=${a}&on_parent_failure=maybe`);
    assert.equal(policy.status, 400);
    assert.equal(policy.body.error.code, 'INVALID_DEPENDS_ON');
    const orphan = await post({}, '?on_parent_failure=run');
    assert.equal(orphan.status, 400);
    assert.equal((await tubeCounts(port, flowTube(f.tubePrefix))).total, 0, 'no waiter was ever put');
    assert.equal((await tubeCounts(port, `${f.tubePrefix}hash`)).total, 2, 'only the two jobs accepted');
  });

  it('when an Idempotency-Key comes back with other parents, then it is 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const a = (await post({})).body.id as string;
    const b = (await post({})).body.id as string;
    const first = await post({}, `?depends_on=${a}`).set('Idempotency-Key', 'flow-key');
    assert.equal(first.status, 202);
    const again = await post({}, `?depends_on=${a}`).set('Idempotency-Key', 'flow-key');
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    const other = await post({}, `?depends_on=${b}`).set('Idempotency-Key', 'flow-key');
    assert.equal(other.status, 422);
    assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('when a waiting child’s waiter is lost from beanstalkd, then the reconciler puts a waiter back, not a real copy', async () => {
    const a = (await post({}, '?delay=600')).body.id as string;
    const b = (await post({}, `?depends_on=${a}`)).body.id as string;
    const ref = await waitFor('the waiter’s ref', () => f.store.findQueueRef(b).then((r) => r ?? undefined));
    assert.equal(ref.tube, flowTube(f.tubePrefix));
    assert.equal((await beanstalkRaw(port, `delete ${ref.beanstalkId}`)).reply, 'DELETED');
    const reconciler = createReconciler({
      queue: f.queues,
      store: f.store,
      log: silentLogger(),
      tubePrefix: f.tubePrefix,
      graceMs: 0,
    });
    const report = await reconciler.pass();
    assert.equal(report.requeued, 1);
    const again = await f.store.findQueueRef(b);
    assert.ok(again && again.beanstalkId !== ref.beanstalkId);
    assert.equal(again.tube, flowTube(f.tubePrefix));
    const peeked = await beanstalkRaw(port, `peek ${again.beanstalkId}`);
    const envelope = decodeEnvelope(peeked.body ?? '');
    assert.equal(envelope?.id, b);
    assert.equal(envelope?.waiting, true);
    assert.equal(
      (await tubeCounts(port, `${f.tubePrefix}hash`)).current,
      1,
      'only the parent is in the type’s tube',
    );
    assert.equal((await view(b)).state, 'waiting');
  });

  it('when a released copy was put but its loop died before the queue ref named it, then a worker deletes it without running it', async () => {
    await startWorkerAndLoop();
    const a = (await post({}, '?delay=600')).body.id as string;
    const b = (await post({}, `?depends_on=${a}`)).body.id as string;
    const job = await f.store.findJob(b);
    assert.ok(job);
    // What a loop killed between its put and its ref write leaves: a released copy nobody names,
    // here with its hold already over.
    const copy = queueCopy(job, f.tubePrefix, { released: true, requeued: false });
    const orphan = await f.queue.put(copy.tube, copy.body, { ...copy.options, delay: 0 });
    await waitFor(
      'the orphan copy to be gone',
      async () => (await beanstalkRaw(port, `stats-job ${orphan}`)).reply === 'NOT_FOUND',
    );
    assert.equal(runsOf(b).length, 0);
    assert.equal((await view(b)).state, 'waiting');
  });

  it('when batch items carry depends_on, then each waits for its own parents, and an item naming an unknown job is refused alone (207)', async () => {
    await startWorkerAndLoop();
    const a = (await post({ ms: 200 })).body.id as string;
    const res = await request(f.app.callback())
      .post('/jobs/batch')
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify([
          { payload: { n: 1 }, depends_on: a },
          { payload: { n: 2 }, depends_on: a, on_parent_failure: 'run' },
          { payload: { n: 3 }, depends_on: newJobId() },
        ]),
      );
    assert.equal(res.status, 207, JSON.stringify(res.body));
    const [one, two, three] = res.body.jobs;
    assert.equal(one.state, 'waiting');
    assert.equal(two.state, 'waiting');
    assert.equal(three.error.code, 'UNKNOWN_PARENT');
    for (const id of [one.id, two.id]) assert.equal((await ended(id)).state, 'completed');
    assert.equal((await view(two.id)).onParentFailure, 'run');
    for (const id of [one.id, two.id])
      assert.ok((runsOf(id)[0] as RunRecord).startedAt >= (runsOf(a)[0] as RunRecord).endedAt!);
  });

  it('when a loop died after naming its released copy but before kicking it, then the next look kicks that copy and drops the waiter: one run, no second copy', async () => {
    const a = (await post({})).body.id as string;
    const b = (await post({}, `?depends_on=${a}`)).body.id as string;
    const job = await f.store.findJob(b);
    assert.ok(job);
    // What the dead loop left: a released copy on its 120 s hold, named by the ref; the waiter still there.
    const copy = queueCopy(job, f.tubePrefix, { released: true, requeued: false });
    const released = await f.queue.put(copy.tube, copy.body, copy.options);
    await f.store.replaceQueueRef({
      _id: b,
      server: f.queue.server,
      beanstalkId: released,
      tube: copy.tube,
      putAt: new Date(),
    });
    await startWorkerAndLoop();
    assert.equal((await ended(b, 20_000)).state, 'completed');
    assert.equal(runsOf(b).length, 1);
    assert.equal((await f.store.findQueueRef(b))?.beanstalkId, released, 'no other copy was named');
    await waitFor(
      'no waiter left',
      async () => (await tubeCounts(port, flowTube(f.tubePrefix))).current === 0,
    );
  });
});
