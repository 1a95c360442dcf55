/**
 * A group's completion job (`on_complete` on POST /jobs/matrix and on a JSON batch,
 * docs/flows-design.md) on real servers: an app, an in-process worker with the built-in handlers
 * (the completion job's runs counted), and one or two flow loops on the fixture's tube prefix and
 * database.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers, type Handler } from '../../src/handlers/index.js';
import { silentLogger } from '../../src/log.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, startFixtureFlowLoop, workerEnvFor } from '../support/app-fixture.js';
import { waitFor, withMongo } from '../support/harness.js';

interface StoredResult {
  _id: string;
  outcome: string;
  result?: Record<string, unknown>;
  error?: { message: string };
  startedAt?: Date;
  finishedAt: Date;
}

describe('on_complete: a group completion job on real servers', function () {
  this.timeout(240_000);
  let f: AppFixture;
  /** Each run of a completion job: its job id and when it started. */
  let summaryRuns: Array<{ id: string; at: number }>;
  const stops: Array<() => Promise<void>> = [];

  const api = () => request(f.app.callback());
  const postJson = (path: string, body: unknown) =>
    api().post(path).set('Content-Type', 'application/json').send(JSON.stringify(body));
  /** Axis values 0 … n-1. */
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);
  const view = async (id: string) => (await api().get(`/jobs/${id}`)).body;
  const ended = (id: string, timeoutMs = 120_000) =>
    waitFor(
      `job ${id} to end`,
      async () => {
        const v = await view(id);
        return ['completed', 'failed', 'cancelled'].includes(v.state) ? v : undefined;
      },
      timeoutMs,
      200,
    );

  async function startWorkerWith(concurrency: number): Promise<void> {
    const builtins = builtinHandlers();
    const summary = builtins.get('summary') as Handler;
    const handlers = new Map(builtins);
    // The built-in summary, its runs counted.
    handlers.set('summary', (payload, context) => {
      summaryRuns.push({ id: context.jobId, at: Date.now() });
      return summary(payload, context);
    });
    // Fails when its payload says so: the group then has failures to sum up.
    // And runs `ms` first when its payload says so.
    handlers.set('simulate', async (payload) => {
      const { fail, ms } = payload as { fail?: boolean; ms?: number };
      if (ms !== undefined) await new Promise((resolve) => setTimeout(resolve, ms));
      if (fail) throw new Error('failing on purpose');
      return { ok: true };
    });
    const worker: RunningWorker = await startWorker(
      loadWorkerConfig({
        ...workerEnvFor(f),
        WORKER_CONCURRENCY: String(concurrency),
        WORKER_NAME: 'on-complete',
      }),
      { handlers, log: silentLogger() },
    );
    stops.push(() => worker.stop(2000));
  }

  /** A flow loop as a manager runs it (`follower: false`: woken by nothing but its looks); answers its stop. */
  function startLoop(options: { follower?: boolean } = {}): () => Promise<void> {
    const stop = startFixtureFlowLoop(f, options);
    stops.push(stop);
    return stop;
  }

  /** Every stored outcome of the fixture's database, by id. */
  const storedResults = () =>
    withMongo(f.dbName, async (db) => {
      const all = await db.collection<StoredResult>('results').find({}).toArray();
      return new Map(all.map((r) => [String(r._id), r]));
    });

  /** The summary's digest recomputed from the stored outcomes, in the group's order. */
  function expectedDigest(members: readonly string[], results: Map<string, StoredResult>): string {
    const digest = createHash('md5');
    for (const id of members) {
      const r = results.get(id);
      assert.ok(r, `member ${id} has an outcome`);
      const detail = r.outcome === 'completed' ? (r.result ?? null) : (r.error?.message ?? null);
      digest.update(`${id} ${r.outcome} ${JSON.stringify(detail)}\n`, 'utf8');
    }
    return digest.digest('hex');
  }

  beforeEach(async () => {
    summaryRuns = [];
    f = await appFixture({ label: 'on-complete', maxAttempts: 1 });
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await f.close();
  });

  it('when a 10,000-job matrix is posted with on_complete, then its summary runs once, after every job ended, with every result', async () => {
    await startWorkerWith(32);
    startLoop();
    const posted = await postJson('/jobs/matrix', {
      template: { suite: 'big' },
      axes: { a: upTo(100), b: upTo(100) },
      on_complete: { payload: { note: 'sum it up' } },
    });
    assert.equal(posted.status, 202, JSON.stringify(posted.body).slice(0, 500));
    assert.equal(posted.body.accepted, 10_000);
    const group = posted.body.group as string;
    const completion = posted.body.onComplete as { id: string; state: string };
    assert.equal(completion.state, 'waiting');
    const early = await view(completion.id);
    assert.equal(early.onCompleteOf, group, 'GET names the group the job waits for');
    assert.equal(early.type, 'summary', 'the default type');
    const progress = (await api().get(`/groups/${group}`)).body;
    assert.equal(progress.onComplete, completion.id, 'GET /groups/<id> names the completion job');

    const done = await ended(completion.id, 200_000);
    assert.equal(done.state, 'completed', JSON.stringify(done).slice(0, 500));
    assert.equal(summaryRuns.filter((run) => run.id === completion.id).length, 1, 'ran once');
    const results = await storedResults();
    const members = (posted.body.jobs as Array<{ id: string }>).map((job) => job.id);
    assert.equal(done.result.total, 10_000);
    assert.deepEqual(done.result.counts, { completed: 10_000 });
    const lastEnd = Math.max(...members.map((id) => results.get(id)?.finishedAt.getTime() ?? Infinity));
    const run = summaryRuns.find((r) => r.id === completion.id);
    assert.ok(run && run.at >= lastEnd, 'the summary started after the last member ended');
    // The group's order is ascending by id, as the group document keeps it.
    const order = await f.store.findGroup(group);
    assert.ok(order);
    assert.equal(
      done.result.digest,
      expectedDigest(
        order.jobs.map((job) => job.id),
        results,
      ),
      "the digest covers every member's stored result",
    );
  });

  it('when a JSON batch with on_complete has a failing item, then its completion job waits for it and counts it', async () => {
    await startWorkerWith(4);
    startLoop();
    const items = [
      ...Array.from({ length: 20 }, (_, i) => ({ payload: { i }, type: 'simulate' })),
      { payload: { fail: true }, type: 'simulate' },
    ];
    const posted = await postJson('/jobs/batch', {
      jobs: items,
      on_complete: { type: 'summary', priority: 10 },
    });
    assert.equal(posted.status, 202, JSON.stringify(posted.body).slice(0, 500));
    assert.equal(posted.body.accepted, 21);
    const group = posted.body.group as string;
    assert.match(group, /^[0-9a-f-]{36}$/);
    const completion = posted.body.onComplete as { id: string; state: string };
    const done = await ended(completion.id);
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.result.counts, { completed: 20, failed: 1 });
    const failedId = (posted.body.jobs as Array<{ id: string }>)[20]?.id;
    assert.deepEqual(done.result.failed, [{ id: failedId, error: 'failing on purpose' }]);
    const listed = (await api().get(`/groups/${group}`)).body;
    assert.equal(listed.total, 21);
    assert.equal(listed.done, true);
    assert.deepEqual(
      listed.failures[0]?.combination,
      { item: 20 },
      "a batch item's combination is its index",
    );
  });

  it('when a group’s last member ends between two looks, then its completion job starts within about a second, not at its next look', async () => {
    await startWorkerWith(4);
    startLoop();
    // Looks at about 0, 1, 3, 7 and 12 s: a member ending at about 7.6 s would leave the
    // completion job waiting until the look at 12 s without the follower.
    const posted = await postJson('/jobs/batch', {
      jobs: [
        { payload: { ms: 0 }, type: 'simulate' },
        { payload: { ms: 7_500 }, type: 'simulate' },
      ],
      on_complete: {},
    });
    assert.equal(posted.status, 202, JSON.stringify(posted.body).slice(0, 500));
    const completion = (posted.body.onComplete as { id: string }).id;
    assert.equal((await ended(completion)).state, 'completed');
    const last = (await storedResults()).get((posted.body.jobs as Array<{ id: string }>)[1]?.id ?? '');
    assert.ok(last, 'the long member has an outcome');
    const started = summaryRuns.find((run) => run.id === completion)?.at ?? 0;
    const gap = started - last.finishedAt.getTime();
    assert.ok(gap >= 0, 'the completion job started after the last member ended');
    assert.ok(
      gap < 2_000,
      `the completion job started ${gap} ms after the last member ended (next look: about 4 s later)`,
    );
    assert.equal(summaryRuns.length, 1);
  });

  it('when the flow loop holding a completion job stops and another takes over, then the job still runs exactly once', async () => {
    await startWorkerWith(4);
    const first = startLoop();
    startLoop();
    const posted = await postJson('/jobs/matrix', {
      template: {},
      axes: { n: upTo(20), m: upTo(15) },
      on_complete: {},
    });
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    const completion = posted.body.onComplete as { id: string };
    // One of the two managers goes while the group runs; its waiter (if it held it) goes back.
    await waitFor(
      'a third of the group to end',
      async () => ((await api().get(`/groups/${posted.body.group}`)).body.finished >= 100 ? true : undefined),
      60_000,
      100,
    );
    await first();
    const done = await ended(completion.id);
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.result.counts, { completed: 300 });
    assert.equal(summaryRuns.filter((run) => run.id === completion.id).length, 1, 'ran once');
  });

  it('when on_complete is malformed, then the request is refused and nothing is stored', async () => {
    const cases: Array<[string, string, number, string]> = [
      [
        '/jobs/matrix',
        JSON.stringify({ axes: { a: [1] }, on_complete: 'summary' }),
        400,
        'INVALID_ON_COMPLETE',
      ],
      [
        '/jobs/matrix',
        JSON.stringify({ axes: { a: [1] }, on_complete: { cron: 1 } }),
        400,
        'INVALID_ON_COMPLETE',
      ],
      [
        '/jobs/matrix',
        JSON.stringify({ axes: { a: [1] }, on_complete: { type: 'nope' } }),
        400,
        'UNKNOWN_JOB_TYPE',
      ],
      [
        '/jobs/matrix',
        JSON.stringify({ axes: { a: [1] }, on_complete: { priority: -1 } }),
        400,
        'INVALID_OPTION',
      ],
      ['/jobs/matrix', JSON.stringify({ axes: { a: [1] }, on_complete: { payload: 3 } }), 400, 'INVALID_JOB'],
      [
        '/jobs/batch',
        JSON.stringify({ jobs: [{ payload: {} }], on_complete: [] }),
        400,
        'INVALID_ON_COMPLETE',
      ],
      ['/jobs/batch', JSON.stringify({ jobs: [{ payload: {} }], extra: 1 }), 400, 'INVALID_BATCH'],
      [
        '/jobs/batch',
        JSON.stringify({ jobs: [{ payload: {}, idempotencyKey: 'k1' }], on_complete: {} }),
        400,
        'INVALID_BATCH',
      ],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await api().post(path).set('Content-Type', 'application/json').send(body);
      assert.equal(res.status, status, `${path} ${body}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code, `${path} ${body}`);
    }
    const stored = await withMongo(f.dbName, async (db) => ({
      jobs: await db.collection('jobs').countDocuments(),
      groups: await db.collection('groups').countDocuments(),
    }));
    assert.deepEqual(stored, { jobs: 0, groups: 0 });
  });
});
