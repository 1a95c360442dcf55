/** The store adapter against the real MongoDB-wire server. */
import assert from 'node:assert/strict';
import { newJobId } from '../../src/jobs/job-id.js';
import { freePort, startMongoServer } from '../../src/local/servers.js';
import { createStore, isStoreUnavailable, type ResultDocument, type Store } from '../../src/store/index.js';
import { backends, dropDatabase, isolation, waitFor, withMongo } from '../support/harness.js';

function result(id: string, worker = 'w:1:0'): ResultDocument {
  const now = new Date();
  return {
    _id: id,
    type: 'hash',
    outcome: 'completed',
    result: { algorithm: 'md5', hash: 'x' },
    worker,
    attempt: 1,
    startedAt: now,
    finishedAt: now,
    durationMs: 0,
  };
}

describe('store adapter on a real MongoDB-wire server', function () {
  this.timeout(30_000);
  let store: Store;
  let dbName: string;

  beforeEach(() => {
    dbName = isolation('store').dbName;
    store = createStore({ url: backends().mongoUrl, dbName, timeoutMs: 3000, insertRetryMs: 2000 });
  });
  afterEach(async () => {
    await store.close();
    await dropDatabase(dbName);
  });

  it('when 500 outcomes are saved at once, then every one is stored once', async () => {
    const ids = Array.from({ length: 500 }, () => newJobId());
    const outcomes = await Promise.all(ids.map((id) => store.saveResult(result(id))));
    assert.deepEqual(new Set(outcomes), new Set(['inserted']));
    const count = await withMongo(dbName, (db) => db.collection('results').countDocuments());
    assert.equal(count, 500);
  });

  it('when eight managers ask for the maintenance lease at once, then exactly one holds each term, keeps it into the next, and may give it back', async () => {
    const termMs = 30_000;
    for (let round = 0; round < 10; round += 1) {
      const name = `lease-${round}`;
      // Early in a term, then in its second half (when the holder takes the next one too).
      for (const offset of [1_000, 20_000]) {
        const now = new Date((Math.floor(Date.now() / termMs) + round * 3) * termMs + offset);
        const holders = Array.from({ length: 8 }, (_, i) => `m${i}`);
        const won = await Promise.all(
          holders.map((h) => store.acquireLease(`${name}-${offset}`, h, now, termMs)),
        );
        assert.equal(won.filter(Boolean).length, 1, `round ${round}, ${offset} ms into the term: one holder`);
        const holder = holders[won.indexOf(true)] as string;
        const next = new Date(now.getTime() + termMs);
        const nextWon = await Promise.all(
          holders.map((h) => store.acquireLease(`${name}-${offset}`, h, next, termMs)),
        );
        assert.equal(nextWon.filter(Boolean).length, 1, 'one holder of the next term');
        if (offset === 20_000)
          assert.ok(nextWon[holders.indexOf(holder)], 'the holder took the next term ahead');
        await store.releaseLease(`${name}-${offset}`, holder, next, termMs);
        const after = await Promise.all(
          holders.map((h) => store.acquireLease(`${name}-${offset}`, h, next, termMs)),
        );
        if (offset === 20_000)
          assert.equal(after.filter(Boolean).length, 1, 'given back: another takes it at once');
      }
    }
  });

  it('when a completion notice is saved, then it reads back as written, stored as text with no arrays; one an older version wrote with arrays reads too', async () => {
    const at = new Date('2026-12-02T02:00:00.123Z');
    const notice = {
      tally: 't1',
      n: 3,
      at,
      entries: [
        { id: 'a', state: 'completed' as const, at, type: 'hash', storedAt: new Date(at.getTime() + 5) },
        { id: 'b', state: 'failed' as const, at, type: 'hash', group: 'g1' },
      ],
      events: [
        { id: 'c', kind: 'started' as const, at, type: 'hash', attempt: 1 },
        {
          id: 'c',
          kind: 'progress' as const,
          at,
          type: 'hash',
          group: 'g1',
          attempt: 2,
          percent: 40,
          data: { step: 'x', n: [1, 2] },
        },
      ],
    };
    await store.saveNotice(notice);
    assert.deepEqual(await store.findNotice('t1', 3), { _id: 't1:3', ...notice });
    const raw = await withMongo(dbName, (db) =>
      db.collection('completions').findOne({ _id: 't1:3' as never }),
    );
    assert.deepEqual(raw?.entries, [], 'an older manager reads no ends instead of failing');
    assert.equal(raw?.events, undefined);
    assert.equal(typeof raw?.ends, 'string');
    assert.equal(typeof raw?.starts, 'string');
    // A notice without events has none when read back.
    await store.saveNotice({ tally: 't1', n: 4, at, entries: [] });
    assert.deepEqual(await store.findNotice('t1', 4), { _id: 't1:4', tally: 't1', n: 4, at, entries: [] });
    // Written by an older worker: arrays of documents.
    const older = { _id: 't2:1', tally: 't2', n: 1, at, entries: notice.entries, events: notice.events };
    await withMongo(dbName, (db) => db.collection('completions').insertOne(older as never));
    assert.deepEqual(await store.findNotice('t2', 1), older);
    assert.equal(await store.findNotice('t2', 1 + 1024), null, 'a slot holding another notice is not it');
  });

  it('when an outcome is saved twice, then the second is reported as duplicate and the first is kept', async () => {
    const id = newJobId();
    assert.equal(await store.saveResult(result(id, 'first')), 'inserted');
    const again = await Promise.all([
      store.saveResult(result(id, 'second')),
      store.saveResult(result(newJobId())),
    ]);
    assert.deepEqual(again, ['duplicate', 'inserted'], 'a duplicate in a batch does not fail its neighbours');
    const stored = await store.findResult(id);
    assert.equal(stored?.worker, 'first');
  });

  it('when records and queue refs are inserted many at once, then each is stored once, a duplicate is said in its place, and refs are readable before they land', async () => {
    const createdAt = new Date();
    const record = (id: string) => ({
      _id: id,
      type: 'hash',
      payload: `{"id":"${id}"}`,
      bytes: 47,
      options: { priority: 5, delay: 0, ttr: 60, maxAttempts: 3 },
      createdAt,
    });
    const ids = Array.from({ length: 300 }, () => newJobId());
    const first = await store.insertJobs(ids.map(record));
    assert.deepEqual(new Set(first), new Set(['inserted']));
    const fresh = newJobId();
    const again = await store.insertJobs([record(ids[7] as string), record(fresh)]);
    assert.deepEqual(again, ['duplicate', 'inserted']);
    assert.equal(await withMongo(dbName, (db) => db.collection('jobs').countDocuments()), 301);
    assert.equal((await store.findJob(ids[299] as string))?.payload, `{"id":"${ids[299]}"}`);
    const refs = ids.map((id, i) => ({
      _id: id,
      server: 's1',
      beanstalkId: String(i + 1),
      tube: 't',
      putAt: createdAt,
    }));
    const landing = store.insertQueueRefs(refs);
    assert.equal(store.queueRefsInFlight(), 300);
    assert.equal(
      (await store.findQueueRef(ids[5] as string))?.beanstalkId,
      '6',
      'read from memory until it lands',
    );
    assert.deepEqual(new Set(await landing), new Set([undefined]));
    assert.equal(store.queueRefsInFlight(), 0);
    assert.equal(await withMongo(dbName, (db) => db.collection('queue_refs').countDocuments()), 300);
    assert.deepEqual(await store.insertJobs([]), []);
  });

  it("when a record, a queue ref and an outcome are read by id, then each is what the driver's findOne answers, and a missing id is null", async () => {
    const id = newJobId();
    const createdAt = new Date('2026-01-02T03:04:05.678Z');
    await store.insertJob({
      _id: id,
      type: 'hash',
      payload: '{"n":1}',
      bytes: 7,
      options: { priority: 5, delay: 0, ttr: 60, maxAttempts: 3 },
      createdAt,
    });
    await store.insertQueueRef({ _id: id, server: 's1', beanstalkId: '42', tube: 't', putAt: createdAt });
    await store.saveResult(result(id));
    const direct = await withMongo(dbName, async (db) => ({
      job: await db.collection('jobs').findOne({ _id: id as never }),
      ref: await db.collection('queue_refs').findOne({ _id: id as never }),
      result: await db.collection('results').findOne({ _id: id as never }),
    }));
    assert.ok(direct.job && direct.ref && direct.result, 'all three were stored');
    assert.deepEqual(await store.findJob(id), direct.job);
    assert.deepEqual(await store.findQueueRef(id), direct.ref);
    assert.deepEqual(await store.findResult(id), direct.result);
    assert.ok((await store.findJob(id))?.createdAt instanceof Date, 'dates come back as dates');
    const missing = newJobId();
    assert.equal(await store.findJob(missing), null);
    assert.equal(await store.findQueueRef(missing), null);
    assert.equal(await store.findResult(missing), null);
  });

  it('when the first contact with MongoDB failed, then a retried insert is never reported as stored', async () => {
    // Driver 7.x closes the client after a failed first connect; a retried insertMany then
    // fails as a whole ("Topology is closed") with no per-document errors. That once counted
    // as success, and a worker would have deleted a job whose outcome was never stored.
    const down = createStore({ url: 'mongodb://127.0.0.1:1', dbName, timeoutMs: 300, insertRetryMs: 1500 });
    try {
      await assert.rejects(down.findJob(newJobId()));
      await assert.rejects(down.saveResult(result(newJobId())));
    } finally {
      await down.close();
    }
  });

  it('when MongoDB starts only after the store first tried it, then the store connects again and works', async () => {
    // Without reconnect.ts the driver's client stays closed ("Topology is closed") for good.
    const port = await freePort();
    const late = createStore({
      url: `mongodb://127.0.0.1:${port}`,
      dbName,
      timeoutMs: 500,
      insertRetryMs: 500,
    });
    const server = await (async () => {
      await assert.rejects(late.ping(), (error: unknown) => isStoreUnavailable(error));
      return startMongoServer({ port });
    })();
    try {
      await waitFor('the store to reach the server that came up late', async () => {
        await late.ping();
        return true;
      });
      const id = newJobId();
      assert.equal(await late.saveResult(result(id)), 'inserted');
      assert.equal((await late.findResult(id))?._id, id);
    } finally {
      await late.close();
      await server.stop();
    }
  });

  it('when MongoDB cannot be reached, then inserts and reads fail with StoreUnavailableError within the bound', async () => {
    const down = createStore({ url: 'mongodb://127.0.0.1:1', dbName, timeoutMs: 500, insertRetryMs: 500 });
    try {
      const started = Date.now();
      await assert.rejects(down.saveResult(result(newJobId())), (error: unknown) =>
        isStoreUnavailable(error),
      );
      await assert.rejects(down.findJob(newJobId()), (error: unknown) => isStoreUnavailable(error));
      assert.ok(Date.now() - started < 4000, `${Date.now() - started} ms`);
    } finally {
      await down.close();
    }
  });
});
