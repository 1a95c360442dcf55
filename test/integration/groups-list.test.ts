/** GET /groups (matrix groups newest first, from the job log, in cursor pages), on real servers. */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers } from '../../src/handlers/index.js';
import { freePort } from '../../src/local/servers.js';
import type { GroupSummary } from '../../src/manager/groups/group-progress.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, tubeCounts, waitFor, withMongo } from '../support/harness.js';

interface GroupPage {
  groups: GroupSummary[];
  nextCursor: string | null;
}

const FAILING = '?type=simulate&fail_rate=1&mean_ms=1&attempts=1';

describe('listing matrix groups on real servers', function () {
  this.timeout(120_000);
  let f: AppFixture;
  const workers: RunningWorker[] = [];
  const extra: AppFixture[] = [];

  const get = (path: string) => request(f.app.callback()).get(path);
  const list = async (query = '') => {
    const res = await get(`/groups${query}`);
    assert.equal(res.status, 200, `GET /groups${query}: ${JSON.stringify(res.body).slice(0, 300)}`);
    return res.body as GroupPage;
  };
  /** Every page from the top with `limit`: the groups in the order seen, and the pages read. */
  const pageThrough = async (limit: number, between?: (page: number) => Promise<void>) => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: GroupPage = await list(`?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.groups.length <= limit);
      seen.push(...page.groups.map((g) => g.id));
      cursor = page.nextCursor;
      pages += 1;
      await between?.(pages);
    } while (cursor !== null && pages < 200);
    assert.equal(cursor, null, 'the pages reach the end of the log');
    return { seen, pages };
  };
  const matrix = async (axes: Record<string, unknown[]>, query = '') => {
    const res = await request(f.app.callback())
      .post(`/jobs/matrix${query}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ template: { suite: 'list' }, axes }));
    assert.equal(res.status, 202, JSON.stringify(res.body).slice(0, 300));
    return res.body.group as string;
  };
  const plain = async (count: number) => {
    const lines = Array.from({ length: count }, (_, i) => JSON.stringify({ plain: i })).join('\n');
    const res = await request(f.app.callback())
      .post('/jobs/batch')
      .set('Content-Type', 'application/x-ndjson')
      .send(lines);
    assert.equal(res.status, 202);
  };
  const startWorkers = async () => {
    const config = loadWorkerConfig({ ...workerEnvFor(f), WORKER_CONCURRENCY: '4' });
    workers.push(await startWorker(config, { handlers: builtinHandlers(), log: pino({ level: 'silent' }) }));
  };
  /** The log segments that hold a group's jobs (read straight from the store). */
  const segmentsOf = async (group: string) => {
    const meta = await f.store.log.readLogMeta();
    const head = await f.store.log.logHead(meta);
    const holding: number[] = [];
    for (let n = 1; n <= head; n += 1) {
      const segment = await f.store.log.readSegment(n);
      if (segment?.jobs.some((entry) => entry.group === group)) holding.push(n);
    }
    return holding;
  };
  const stored = () =>
    withMongo(f.dbName, (db) =>
      Promise.all(['jobs', 'groups', 'group_marks'].map((name) => db.collection(name).countDocuments())),
    );

  /** Oldest first: five groups between plain jobs, one of them large enough for several segments. */
  let created: string[];
  beforeEach(async () => {
    f = await appFixture({ label: 'glist' });
    await plain(3);
    const a = await matrix({ n: [1, 2, 3] });
    await plain(5);
    const b = await matrix({ x: [1, 2], y: ['p', 'q'] }, FAILING);
    await plain(1);
    const c = await matrix({ only: ['one'] });
    // 1,200 jobs: more than one insert batch (500 at most), so several log segments, with plain
    // jobs accepted while the fan-out runs.
    const fanning = matrix(
      { a: Array.from({ length: 100 }, (_, i) => i), b: Array.from({ length: 12 }, (_, i) => i) },
      '?type=simulate&mean_ms=1',
    );
    await Promise.all([fanning, plain(20), plain(20)]);
    const d = await fanning;
    await plain(2);
    const e = await matrix({ last: [true, false] });
    created = [a, b, c, d, e];
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
    await Promise.all(extra.splice(0).map((x) => x.close()));
    await f.close();
  });

  it('when groups are created between plain jobs, then GET /groups lists each once, newest first, with the counts GET /groups/<id> gives', async () => {
    const spread = await segmentsOf(created[3] as string);
    assert.ok(spread.length >= 3, `the 1,200-job group spans several segments: ${spread.join(', ')}`);

    const page = await list();
    assert.deepEqual(
      page.groups.map((g) => g.id),
      [...created].reverse(),
      'every group once, newest first',
    );
    assert.equal(page.nextCursor, null, 'the default page (20) holds them all: the log ends');
    assert.deepEqual(
      page.groups.map((g) => [g.type, g.jobs]),
      [
        ['hash', 2],
        ['simulate', 1200],
        ['hash', 1],
        ['simulate', 4],
        ['hash', 3],
      ],
    );
    const times = page.groups.map((g) => Date.parse(g.createdAt));
    assert.deepEqual(
      times,
      [...times].sort((x, y) => y - x),
      'createdAt: when each group was stored, newest first',
    );
    // Nothing ran yet: every job unfinished, as GET /groups/<id> counts them queued.
    for (const listed of page.groups) {
      const one = (await get(`/groups/${listed.id}`)).body;
      assert.deepEqual(
        [listed.type, listed.jobs, listed.finished, listed.done],
        [one.type, one.total, 0, false],
        listed.id,
      );
      const open = Object.values(one.counts as Record<string, number>).reduce((s, k) => s + k, 0);
      assert.deepEqual(listed.counts, { unfinished: open }, listed.id);
    }

    await startWorkers();
    await waitFor(
      'every group to be done',
      async () => (await list()).groups.every((g) => g.done),
      60_000,
      200,
    );
    const done = await list();
    for (const listed of done.groups) {
      const one = (await get(`/groups/${listed.id}`)).body;
      assert.deepEqual(
        { jobs: listed.jobs, finished: listed.finished, done: listed.done, counts: listed.counts },
        { jobs: one.total, finished: one.finished, done: one.done, counts: one.counts },
        `the summary of ${listed.id} is GET /groups/<id>'s`,
      );
    }
    const byId = new Map(done.groups.map((g) => [g.id, g]));
    assert.deepEqual(byId.get(created[1] as string)?.counts, { failed: 4 }, 'the failing group');
    assert.deepEqual(byId.get(created[3] as string)?.counts, { completed: 1200 }, 'the large group');
  });

  it('when paging with a small limit while new groups are added, then every group recorded before is visited exactly once, in order', async () => {
    const added: string[] = [];
    const { seen, pages } = await pageThrough(1, async (page) => {
      // A new group after the first and the third page: it lands above the cursor.
      if (page === 1 || page === 3) added.push(await matrix({ during: [page] }));
    });
    assert.ok(pages >= created.length, `${pages} pages`);
    assert.deepEqual(seen, [...created].reverse(), 'each group once, none added meanwhile');
    const all = [...created, ...added].reverse();
    for (const limit of [2, 3]) {
      const again = await pageThrough(limit);
      assert.deepEqual(again.seen, all, `limit ${limit}: the groups added meanwhile come first`);
    }
  });

  it('when the limit or cursor is bad, then 400 INVALID_QUERY and nothing changes; a store that is down is 503', async () => {
    const before = await stored();
    const tube = await tubeCounts(backends().beanstalk.port, f.tube);
    for (const bad of [
      '?limit=0',
      '?limit=101',
      '?limit=ten',
      '?limit=5&limit=6',
      '?cursor=abc',
      '?cursor=1.2.3',
      '?cursor=',
      '?state=failed',
    ]) {
      const res = await get(`/groups${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.code, 'INVALID_QUERY', bad);
    }
    assert.deepEqual(await stored(), before, 'no job, group or mark stored');
    assert.deepEqual(await tubeCounts(backends().beanstalk.port, f.tube), tube, 'nothing queued');
    assert.equal((await list('?limit=100')).groups.length, created.length);

    const down = await appFixture({ label: 'glist', mongoUrl: `mongodb://127.0.0.1:${await freePort()}/` });
    extra.push(down);
    const res = await request(down.app.callback()).get('/groups');
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'STORE_UNAVAILABLE');
  });
});
