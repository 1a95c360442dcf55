/**
 * The job log's type directory on the real MongoDB-wire server: built by the maintenance
 * pass (manager/background/type-index.ts), read by `GET /jobs?type=` (log-walk.ts), and
 * deleted by retention with the segments below the floor. Blocks of 4 segments here (the
 * log's meta fixes the fanout), so that 42 segments make two levels. And a page that spends its
 * reads before resolving what it found (listing.ts), with or without the directory.
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import request from 'supertest';
import { jobIdTime, newJobId } from '../../src/jobs/job-id.js';
import { startBackgroundPasses } from '../../src/manager/background/background-passes.js';
import { createReconciler } from '../../src/manager/background/reconciler.js';
import { createRetention } from '../../src/manager/background/retention.js';
import { type JobDocument, type ResultDocument, SEGMENT_KEEP_MS } from '../../src/store/index.js';
import { type AppFixture, appFixture } from '../support/app-fixture.js';

const silent = pino({ level: 'silent' });

describe('the type directory of the job log on real servers', function () {
  this.timeout(60_000);
  let f: AppFixture;
  beforeEach(async () => {
    f = await appFixture({ label: 'types' });
  });
  afterEach(async () => {
    await f.close();
  });

  /** Records and completes one job of `type` in a segment of its own; its id. */
  async function finished(type: string, at?: Date): Promise<string> {
    const id = newJobId();
    const createdAt = at ?? jobIdTime(id);
    const job: JobDocument = {
      _id: id,
      type,
      payload: '{}',
      bytes: 2,
      options: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
      createdAt,
    };
    await f.store.insertJob(job);
    const outcome: ResultDocument = {
      _id: id,
      type,
      outcome: 'completed',
      result: { algorithm: 'md5', hash: 'x' },
      worker: 'test',
      attempt: 1,
      maxAttempts: 3,
      startedAt: createdAt,
      finishedAt: createdAt,
      durationMs: 0,
    };
    await f.store.saveResult(outcome);
    return id;
  }

  /** Every id `GET /jobs?type=` (or `filter`) lists, page after page of `limit`. */
  async function listAll(type: string, limit: number, filter = `type=${type}`): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page === 0 || cursor !== null; page += 1) {
      assert.ok(page < 60, 'the pages end');
      const res = await request(f.app.callback()).get(
        `/jobs?${filter}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      ids.push(...(res.body.jobs as Array<{ id: string }>).map((job) => job.id));
      cursor = res.body.nextCursor;
    }
    return ids;
  }

  it('when the maintenance pass has built the directory, then a type lists all its jobs, the newest segments too, and retention takes the directories below the floor', async () => {
    const old = new Date(Date.now() - 3_600_000);
    const ids: string[] = [];
    // Segments 1…40, one job each: "rare" in 5, 22 and 23; the first ten are an hour old.
    for (let n = 1; n <= 40; n += 1) {
      ids.push(await finished([5, 22, 23].includes(n) ? 'rare' : 'hash', n <= 10 ? old : undefined));
    }
    assert.equal(await f.store.log.logHead(await f.store.log.readLogMeta()), 40, 'one segment per job');
    await f.store.log.saveLogMeta({
      ...(await f.store.log.readLogMeta()),
      typeIndex: { fanout: 4, through: [0, 0] },
    });
    const maintenance = startBackgroundPasses({
      queue: f.queues,
      store: f.store,
      log: silent,
      tubePrefix: f.tubePrefix,
      graceMs: 0,
      holder: 'test',
      intervalMs: 60_000,
      retentionMs: 0,
    });
    try {
      await maintenance.runOnce();
    } finally {
      await maintenance.stop();
    }
    assert.deepEqual((await f.store.log.readLogMeta()).typeIndex, { fanout: 4, through: [40, 32] });
    assert.deepEqual((await f.store.log.readTypeDirectory(1, 1))?.get('rare'), new Set([0]), 'segment 5');
    assert.deepEqual(
      (await f.store.log.readTypeDirectory(1, 5))?.get('rare'),
      new Set([1, 2]),
      'segments 22, 23',
    );
    assert.equal((await f.store.log.readTypeDirectory(1, 2))?.get('rare'), undefined);
    assert.deepEqual(
      (await f.store.log.readTypeDirectory(2, 0))?.get('rare'),
      new Set([1]),
      'level-1 block 1',
    );
    assert.deepEqual(
      (await f.store.log.readTypeDirectory(2, 1))?.get('rare'),
      new Set([1]),
      'level-1 block 5',
    );
    // Two newer segments, above the directory: one of them rare.
    const newer = await finished('rare');
    await finished('hash');
    const rare = [newer, ids[22], ids[21], ids[4]];
    assert.deepEqual(await listAll('rare', 50), rare, 'newest first, each once');
    assert.deepEqual(await listAll('rare', 1), rare, 'the same through cursors, a job a page');
    assert.equal((await listAll('hash', 50)).length, 38);
    assert.deepEqual(await listAll('absent', 50), []);

    // Retention: the ten old jobs go, the floor rises over their segments, and a pass later
    // the segments and the directories of blocks 0 and 1 (segments 1–8) are deleted.
    await createReconciler({
      queue: f.queues,
      store: f.store,
      log: silent,
      tubePrefix: f.tubePrefix,
      graceMs: 0,
    }).pass(new Date(Date.now() + 1000));
    // Ten minutes on, with half an hour kept: only the hour-old jobs have expired.
    const retention = createRetention({ store: f.store, log: silent, retentionMs: 1_800_000 });
    const later = new Date(Date.now() + SEGMENT_KEEP_MS);
    assert.equal((await retention.pass(later)).floor, 11);
    assert.ok(await f.store.log.readTypeDirectory(1, 0), 'kept while readers may use the old floor');
    await retention.pass(later);
    assert.equal(await f.store.log.readTypeDirectory(1, 0), null);
    assert.equal(await f.store.log.readTypeDirectory(1, 1), null);
    assert.ok(await f.store.log.readTypeDirectory(1, 2), 'segments 9–12 reach above the floor');
    assert.ok(await f.store.log.readTypeDirectory(2, 0), 'segments 1–16 reach above the floor');
    assert.deepEqual(await listAll('rare', 50), rare.slice(0, 3));
  });

  it('when a state filter pages one job at a time over lone segments, then the pages end with every job once, newest first', async () => {
    // Pages of 1 may read 10 documents: two walks of 8 lone segments spend them before 32
    // candidates are found; a page must still resolve what it found, or it hands out its own
    // cursor again (no type directory here).
    const ids: string[] = [];
    for (let n = 0; n < 30; n += 1) ids.push(await finished('hash'));
    assert.deepEqual(await listAll('', 1, 'state=completed'), ids.reverse());
  });
});
