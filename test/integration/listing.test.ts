/** GET /jobs (filters, stable cursor pages) and pausing a type, on real servers. */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers } from '../../src/handlers/index.js';
import { jobIdTime } from '../../src/jobs/job-id.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, beanstalkRaw, tubeCounts, waitFor, withMongo } from '../support/harness.js';

describe('listing and pausing on real servers', function () {
  this.timeout(120_000);
  let f: AppFixture;
  const workers: RunningWorker[] = [];

  const startWorkers = async () => {
    const config = loadWorkerConfig({
      ...workerEnvFor(f),
      WORKER_CONCURRENCY: '4',
    });
    const worker = await startWorker(config, { handlers: builtinHandlers(), log: pino({ level: 'silent' }) });
    workers.push(worker);
  };
  const batch = async (count: number, query = '') => {
    const lines = Array.from({ length: count }, (_, i) => JSON.stringify({ i, at: Date.now() })).join('\n');
    const res = await request(f.app.callback())
      .post(`/jobs/batch${query}`)
      .set('Content-Type', 'application/x-ndjson')
      .send(lines);
    assert.equal(res.status, 202);
    return (res.body.jobs as Array<{ id: string }>).map((j) => j.id);
  };
  const list = (query: string) => request(f.app.callback()).get(`/jobs${query}`);

  beforeEach(async () => {
    f = await appFixture({ label: 'list' });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
    await f.close();
  });

  it('when 1,000 jobs are added while a client pages through, then it sees exactly the jobs recorded before it began, once each, newest first', async () => {
    const before = await batch(300);
    // The pager and the adder take turns, each waiting for the other: batch k's POST starts
    // with page k's GET (k = 1..10, after the first page), and page k+1 is read only once
    // batch k has landed. Every batch lands after one page was read and before another.
    const added: string[][] = [];
    const landedAfterPages: number[] = [];
    let pagesRead = 0;
    let pageStarted: () => void = () => undefined;
    let pagingDone = false;
    const adder = (async () => {
      for (let round = 0; round < 10; round += 1) {
        await new Promise<void>((r) => {
          pageStarted = r;
        });
        if (pagingDone) return;
        added.push(await batch(100));
        landedAfterPages.push(pagesRead);
      }
    })();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = pagesRead;
      if (page >= 2) {
        await waitFor(
          `the batch begun with page ${page - 1} to land`,
          () => added.length >= Math.min(page - 1, 10),
        );
      }
      const fetching: Promise<Awaited<ReturnType<typeof list>>> = list(
        `?limit=25${cursor ? `&cursor=${cursor}` : ''}`,
      ).then((res) => res);
      // Not with the first page: the jobs it is to show are the ones recorded before it.
      if (page >= 1) pageStarted();
      const res = await fetching;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      seen.push(...res.body.jobs.map((j: { id: string }) => j.id));
      pagesRead += 1;
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    pagingDone = true;
    pageStarted();
    await adder;
    assert.ok(pagesRead >= 12, `${pagesRead} pages`);
    assert.deepEqual(
      landedAfterPages.map((pages) => pages >= 1 && pages < pagesRead),
      Array.from({ length: 10 }, () => true),
      `each batch landed between two pages (after ${landedAfterPages.join(', ')} of ${pagesRead} pages)`,
    );
    assert.deepEqual(
      seen,
      [...before].sort().reverse(),
      'the 300 jobs recorded before the first page, each once, newest first; none added since',
    );
    const top = await list('?limit=100');
    assert.deepEqual(
      top.body.jobs.map((j: { id: string }) => j.id),
      [...(added.at(-1) ?? [])].sort().reverse(),
      'the jobs added meanwhile are listed from the top',
    );
  });

  it('when filtered by state, type and time, then only matching jobs come back; bad queries are 400 INVALID_QUERY', async () => {
    const ids = (res: { body: { jobs: Array<{ id: string }> } }) => res.body.jobs.map((j) => j.id).sort();
    const sorted = (values: string[]) => [...values].sort();
    const hashes = await batch(20);
    const simulated = await batch(5, '?type=simulate&mean_ms=1');
    await startWorkers();
    await waitFor('all to complete', async () => {
      const res = await list('?state=completed&limit=100');
      return res.body.jobs.length === 25;
    });
    // A cut after every job so far (ids carry their creation time in ms) and before the next.
    const cut = Math.max(...[...hashes, ...simulated].map((id) => jobIdTime(id).getTime())) + 1;
    await waitFor('the clock to pass the cut', () => Date.now() > cut);
    const queuedLater = await batch(3, '?delay=600');
    const delayed = await list('?state=delayed');
    assert.deepEqual(ids(delayed), sorted(queuedLater));
    assert.ok(delayed.body.jobs.every((j: { state: string }) => j.state === 'delayed'));
    const sims = await list('?type=simulate&state=completed');
    assert.deepEqual(ids(sims), sorted(simulated));
    const at = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    const cases: Array<[string, string[]]> = [
      [`?created_after=${at(cut)}&limit=500`, queuedLater],
      [`?created_before=${at(cut)}&limit=500`, [...hashes, ...simulated]],
      [`?created_before=${at(cut)}&type=simulate`, simulated],
      [
        `?created_after=${at(jobIdTime(hashes[0]!).getTime())}&limit=500`,
        [...hashes, ...simulated, ...queuedLater],
      ],
      [`?created_after=${at(cut)}&state=completed`, []],
      [`?created_before=${at(jobIdTime(hashes[0]!).getTime())}`, []],
    ];
    for (const [query, expected] of cases) {
      const res = await list(query);
      assert.equal(res.status, 200, `${query}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(ids(res), sorted(expected), query);
    }
    for (const bad of [
      '?limit=0',
      '?limit=501',
      '?state=bogus',
      '?cursor=abc',
      '?type=Bad',
      '?created_after=yesterday',
      '?nope=1',
      '?limit=5&limit=6',
    ]) {
      const res = await list(bad);
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.code, 'INVALID_QUERY', bad);
    }
  });

  it('when a type is paused, then its jobs are not served until it is resumed', async () => {
    const paused = await request(f.app.callback()).post('/types/hash/pause?seconds=600');
    assert.equal(paused.status, 200);
    assert.deepEqual(paused.body, { type: 'hash', paused: true, seconds: 600 });
    const [id] = await batch(1);
    await startWorkers();
    const stats = await beanstalkRaw(backends().beanstalk.port, `stats-tube ${f.tube}`);
    assert.match(stats.body ?? '', /^pause: 600$/m, 'beanstalkd holds the pause');
    // A window in which an unpaused tube would certainly have been served (workers reserve every second).
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      assert.equal(
        (await request(f.app.callback()).get(`/jobs/${id}`)).body.state,
        'queued',
        'not served while paused',
      );
      await new Promise((r) => setTimeout(r, 250));
    }
    const pausedRow = (await request(f.app.callback()).get('/stats')).body.types.find(
      (row: { type: string }) => row.type === 'hash',
    );
    assert.ok(
      pausedRow.pausedSeconds > 590 && pausedRow.pausedSeconds <= 600,
      `/stats shows what is left of the pause: ${pausedRow.pausedSeconds}`,
    );
    const resumed = await request(f.app.callback()).post('/types/hash/resume');
    assert.deepEqual(resumed.body, { type: 'hash', paused: false, seconds: 0 });
    const resumedRow = (await request(f.app.callback()).get('/stats')).body.types.find(
      (row: { type: string }) => row.type === 'hash',
    );
    assert.equal(resumedRow.pausedSeconds, 0, '/stats shows the pause ended');
    await waitFor(
      'the job to run after resume',
      async () => (await request(f.app.callback()).get(`/jobs/${id}`)).body.state === 'completed',
    );
    const bad = await request(f.app.callback()).post('/types/hash/pause?seconds=abc');
    assert.equal(bad.status, 400);
    const badType = await request(f.app.callback()).post('/types/Bad%20Type/pause?seconds=5');
    assert.equal(badType.status, 400);
  });

  it('when a 4 × 3 × 2 matrix excludes 4 combinations, then 20 jobs share a group that reaches 20/20 with correct counts', async () => {
    const res = await request(f.app.callback())
      .post('/jobs/matrix?type=simulate&mean_ms=2&attempts=1')
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify({
          template: { suite: 'smoke' },
          axes: {
            spec: ['a', 'b', 'c', 'd'],
            browser: ['chrome', 'firefox', 'webkit'],
            viewport: ['desktop', 'mobile'],
          },
          exclude: [{ browser: 'firefox', viewport: 'mobile' }],
        }),
      );
    assert.equal(res.status, 202, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.total, 20);
    assert.equal(res.body.excluded, 4);
    assert.equal(new Set(res.body.jobs.map((j: { id: string }) => j.id)).size, 20);
    assert.ok(
      res.body.jobs.every(
        (j: { combination: Record<string, string> }) =>
          !(j.combination.browser === 'firefox' && j.combination.viewport === 'mobile'),
      ),
    );
    const group = res.body.group as string;
    const early = await request(f.app.callback()).get(`/groups/${group}`);
    assert.equal(early.status, 200);
    assert.equal(early.body.finished, 0);
    assert.equal(early.body.counts.queued, 20);
    const listed = await list(`?group=${group}&limit=100`);
    assert.equal(listed.body.jobs.length, 20);
    await startWorkers();
    const done = await waitFor('the group to finish', async () => {
      const g = await request(f.app.callback()).get(`/groups/${group}`);
      return g.body.done ? g.body : undefined;
    });
    assert.equal(done.finished, 20);
    assert.deepEqual(done.counts, { completed: 20 });
    assert.equal(done.results.length, 20);
    assert.equal(done.failures.length, 0);
    assert.ok(done.throughputPerSecond > 0);
    const one = done.results[0];
    const job = await request(f.app.callback()).get(`/jobs/${one.id}`);
    assert.equal(job.body.state, 'completed');
    for (const bad of [
      { axes: {} },
      { axes: { a: [] } },
      { axes: { a: [1, 1] } },
      { axes: { a: [1] }, exclude: [{ b: 1 }] },
      { axes: { a: [1] }, exclude: [{ a: 1 }] },
      { axes: { a: [1] }, nope: 1 },
    ]) {
      const r = await request(f.app.callback())
        .post('/jobs/matrix')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(bad));
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(r.body.error.code, 'INVALID_MATRIX', JSON.stringify(bad));
    }
    assert.equal(
      (await request(f.app.callback()).get('/groups/01a20000-0000-7000-8000-000000000000')).status,
      404,
    );
  });

  it('when a matrix would cost too much or names axes ambiguously, then it answers 4xx before building anything and stores nothing', async () => {
    const axis = (n: number) => Array.from({ length: n }, (_, i) => i);
    const send = (text: string) =>
      request(f.app.callback()).post('/jobs/matrix').set('Content-Type', 'application/json').send(text);
    const refusals: Array<[string, string, number, string]> = [
      // 10^7 combinations in under a kilobyte.
      [
        '100×100×10×100',
        JSON.stringify({ axes: { a: axis(100), b: axis(100), c: axis(10), d: axis(100) } }),
        400,
        'INVALID_MATRIX',
      ],
      // 10^5 combinations × 3,000 rules.
      [
        '3,000 rules',
        JSON.stringify({
          axes: { a: axis(100), b: axis(100), c: axis(10) },
          exclude: Array.from({ length: 3000 }, (_, i) => ({ a: i % 100, b: [1, 2] })),
        }),
        400,
        'INVALID_MATRIX',
      ],
      // 10^5 combinations × 100 rules: more checks than allowed.
      [
        '10^5 × 100 rules',
        JSON.stringify({
          axes: { a: axis(100), b: axis(100), c: axis(10) },
          exclude: Array.from({ length: 100 }, (_, i) => ({ a: i })),
        }),
        400,
        'INVALID_MATRIX',
      ],
      // Each job's payload would be larger than beanstalkd takes.
      [
        '66 KB template',
        JSON.stringify({ template: { big: 'x'.repeat(66_000) }, axes: { a: axis(100) } }),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      // 10,000 jobs of 20 KB: 200 MB of payloads.
      [
        '10,000 × 20 KB',
        JSON.stringify({ template: { big: 'x'.repeat(20_000) }, axes: { a: axis(100), b: axis(100) } }),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      ['a repeated axis', '{"axes": {"a": [1, 2], "a": [3]}}', 400, 'INVALID_MATRIX'],
      ['an escaped repeated axis', '{"axes": {"a": [1], "\\u0061": [3]}}', 400, 'INVALID_MATRIX'],
      ['an axis named __proto__', '{"axes": {"a": [1], "__proto__": [1, 2]}}', 400, 'INVALID_MATRIX'],
      [
        'a rule naming an inherited name',
        JSON.stringify({ axes: { a: [1, 2] }, exclude: [{ toString: 1 }] }),
        400,
        'INVALID_MATRIX',
      ],
      [
        'a body past the matrix limit',
        JSON.stringify({ axes: { a: [1] }, pad: 'x'.repeat(1_200_000) }),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
    ];
    for (const [label, text, status, code] of refusals) {
      const res = await send(text);
      assert.equal(res.status, status, `${label}: ${JSON.stringify(res.body).slice(0, 200)}`);
      assert.equal(res.body.error.code, code, label);
    }
    const stored = await withMongo(f.dbName, async (db) =>
      Promise.all(['jobs', 'groups'].map((name) => db.collection(name).countDocuments())),
    );
    assert.deepEqual(stored, [0, 0], 'no job and no group stored');
    assert.equal((await tubeCounts(backends().beanstalk.port, f.tube)).total, 0, 'nothing queued');
    // Within the bounds: 10^5 combinations and 20 rules that leave 10,000 (each rule drops a tenth of c).
    const wide = await send(
      JSON.stringify({
        axes: { a: axis(100), b: axis(100), c: axis(10) },
        exclude: Array.from({ length: 9 }, (_, i) => ({ c: i + 1 })),
      }),
    );
    assert.equal(wide.status, 202, JSON.stringify(wide.body).slice(0, 200));
    assert.equal(wide.body.total, 10_000);
    assert.equal(wide.body.excluded, 90_000);
  });
});
