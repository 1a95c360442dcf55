/**
 * A batch when a backend fails under it, on real servers: each item's fate, and what is left
 * stored and queued. Items without a key are accepted a chunk at a time (accept.ts,
 * recordAndQueueMany), keyed ones one by one; both must leave the same state.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { type LocalServer, startBeanstalkd } from '../../src/local/servers.js';
import { type AppFixture, appFixture } from '../support/app-fixture.js';
import { backends, tubeCounts, waitFor, withMongo } from '../support/harness.js';

async function storedCounts(dbName: string) {
  return withMongo(dbName, async (db) => ({
    jobs: await db.collection('jobs').countDocuments(),
    refs: await db.collection('queue_refs').countDocuments(),
  }));
}

const postBatch = (f: AppFixture, contentType: string, body: string) =>
  request(f.app.callback()).post('/jobs/batch').set('Content-Type', contentType).send(body);

type ItemFate = { index: number; id?: string; error?: { code: string } };

describe('a batch when a backend fails (real servers)', function () {
  this.timeout(60_000);

  describe("with a beanstalkd whose max-job-size is lower than the manager's", () => {
    let small: LocalServer;
    let f: AppFixture;
    before(async () => {
      small = await startBeanstalkd({ maxJobSize: 4096 });
    });
    after(async () => {
      await small.stop();
    });
    beforeEach(async () => {
      f = await appFixture({ label: 'bfail', beanstalkPort: small.port, maxJobSize: 65_535 });
    });
    afterEach(async () => {
      await f.close();
    });

    it('when beanstalkd turns one item away (JOB_TOO_BIG), then 207: that item is PAYLOAD_TOO_LARGE with no record, and the others, keyed or not, are recorded and queued once', async () => {
      const payloads = [0, 1, 2, 3, 4, 5].map((i) =>
        i === 1 || i === 4 ? { i, x: 'a'.repeat(5000) } : { i },
      );
      const items = payloads.map((payload, i) => ({ payload, ...(i === 3 ? { idempotencyKey: 'k3' } : {}) }));
      const res = await postBatch(f, 'application/json', JSON.stringify(items));
      assert.equal(res.status, 207, JSON.stringify(res.body).slice(0, 400));
      assert.deepEqual([res.body.accepted, res.body.failed], [4, 2]);
      const jobs = res.body.jobs as ItemFate[];
      assert.deepEqual(
        jobs.map((job) => [job.index, job.error?.code ?? 'accepted']),
        [
          [0, 'accepted'],
          [1, 'PAYLOAD_TOO_LARGE'],
          [2, 'accepted'],
          [3, 'accepted'],
          [4, 'PAYLOAD_TOO_LARGE'],
          [5, 'accepted'],
        ],
      );
      // Stored: exactly the accepted items, each under its own id with its own payload.
      const records = await withMongo(f.dbName, (db) =>
        db
          .collection('jobs')
          .find({}, { projection: { payload: 1 } })
          .toArray(),
      );
      const payloadOf = new Map(records.map((r) => [String(r._id), r.payload]));
      assert.equal(records.length, 4);
      for (const job of jobs.filter((j) => j.id !== undefined)) {
        assert.equal(payloadOf.get(job.id ?? ''), JSON.stringify(payloads[job.index]), `item ${job.index}`);
      }
      assert.equal((await tubeCounts(small.port, f.tube)).total, 4, 'one copy per accepted item');
      assert.deepEqual(
        await waitFor('a queue ref per accepted item', async () => {
          const counts = await storedCounts(f.dbName);
          return counts.refs === 4 ? counts : undefined;
        }),
        { jobs: 4, refs: 4 },
      );
    });
  });

  it('when beanstalkd is gone, then 503 with QUEUE_UNAVAILABLE for every item, fast, and every record is undone', async () => {
    const own = await startBeanstalkd();
    const f = await appFixture({
      label: 'bnoq',
      beanstalkPort: own.port,
      queueTimeoutsMs: { connect: 20_000, command: 20_000 },
    });
    try {
      const warm = await postBatch(f, 'application/x-ndjson', '{"warm":1}');
      assert.equal(warm.status, 202);
      await own.kill();
      const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ i })).join('\n');
      const started = Date.now();
      const res = await postBatch(f, 'application/x-ndjson', lines);
      assert.equal(res.status, 503, JSON.stringify(res.body).slice(0, 400));
      assert.ok(
        Date.now() - started < 10_000,
        `answered in ${Date.now() - started} ms, not after a queue timeout`,
      );
      assert.deepEqual([res.body.accepted, res.body.failed], [0, 300]);
      const codes = new Set((res.body.jobs as ItemFate[]).map((job) => job.error?.code));
      assert.deepEqual([...codes], ['QUEUE_UNAVAILABLE']);
      assert.deepEqual(
        await waitFor('the warm-up job alone stored', async () => {
          const counts = await storedCounts(f.dbName);
          return counts.refs === 1 ? counts : undefined;
        }),
        { jobs: 1, refs: 1 },
        'the 300 records were removed again',
      );
    } finally {
      await f.close();
      await own.stop();
    }
  });

  it('when MongoDB does not answer, then 503 with STORE_UNAVAILABLE for every item, fast, and nothing is queued', async () => {
    const f = await appFixture({ label: 'bnomongo', mongoUrl: 'mongodb://127.0.0.1:1' });
    try {
      const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ i })).join('\n');
      const started = Date.now();
      const res = await postBatch(f, 'application/x-ndjson', lines);
      assert.equal(res.status, 503, JSON.stringify(res.body).slice(0, 400));
      assert.ok(Date.now() - started < 10_000, `answered in ${Date.now() - started} ms`);
      assert.deepEqual([res.body.accepted, res.body.failed], [0, 300]);
      const codes = new Set((res.body.jobs as ItemFate[]).map((job) => job.error?.code));
      assert.deepEqual([...codes], ['STORE_UNAVAILABLE']);
      assert.equal((await tubeCounts(backends().beanstalk.port, f.tube)).total, 0);
    } finally {
      await f.close();
    }
  });
});
