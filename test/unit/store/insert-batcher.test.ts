/**
 * The insert batcher above a stand-in collection: how it coalesces and what it retries.
 * (Against the real server it is exercised by test/integration/store.test.ts.)
 */
import assert from 'node:assert/strict';
import { mock } from 'node:test';
import { type Collection, MongoBulkWriteError, MongoServerError } from 'mongodb';
import { InsertBatcher } from '../../../src/store/driver/insert-batcher.js';

type Doc = { _id: string };

/** A collection whose insertMany answers from a script, one entry per call. */
function scriptedCollection(script: Array<(docs: Doc[]) => void>) {
  const calls: Doc[][] = [];
  const collection = {
    async insertMany(docs: Doc[]) {
      calls.push(docs);
      const step = script[Math.min(calls.length - 1, script.length - 1)];
      step?.(docs);
      return { acknowledged: true, insertedCount: docs.length };
    },
  } as unknown as Collection<Doc>;
  return { collection, calls };
}

function bulkError(writeErrors: Array<{ index: number; code: number; errmsg: string }>) {
  return new MongoBulkWriteError(
    {
      message: 'bulk',
      code: writeErrors[0]?.code ?? 0,
      writeErrors: writeErrors.map((err) => ({ err, ...err })) as never,
    },
    { insertedCount: 0 } as never,
  );
}

describe('insert batcher', () => {
  it('when 100 inserts arrive in one turn, then they go out as one insertMany', async () => {
    const { collection, calls } = scriptedCollection([() => undefined]);
    const batcher = new InsertBatcher(collection, { maxBatch: 500, maxInFlight: 2, retryForMs: 1000 });
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, i) => batcher.insert({ _id: `id${i}` })),
    );
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.length, 100);
    assert.deepEqual(new Set(outcomes), new Set(['inserted']));
  });

  it('when many documents come in one insertAll, then they share the insertMany of single inserts around them, and each fate comes back in order, errors in place', async () => {
    const { collection, calls } = scriptedCollection([
      () => {
        throw bulkError([
          { index: 2, code: 11000, errmsg: 'E11000 duplicate key' },
          { index: 3, code: 121, errmsg: 'Document failed validation' },
        ]);
      },
    ]);
    const batcher = new InsertBatcher(collection, { maxBatch: 500, maxInFlight: 2, retryForMs: 1000 });
    const single = batcher.insert({ _id: 'before' });
    const all = batcher.insertAll([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
    const [alone, fates] = await Promise.all([single, all]);
    assert.equal(calls.length, 1);
    assert.deepEqual(
      calls[0]?.map((doc) => doc._id),
      ['before', 'a', 'b', 'c'],
    );
    assert.equal(alone, 'inserted');
    assert.deepEqual(fates.slice(0, 2), ['inserted', 'duplicate']);
    const failed = fates[2];
    assert.ok(typeof failed === 'object' && failed.error instanceof MongoBulkWriteError, String(failed));
    assert.deepEqual(await batcher.insertAll([]), []);
  });

  it('when one document of a batch is a duplicate, then only that caller hears "duplicate"', async () => {
    const { collection } = scriptedCollection([
      () => {
        throw bulkError([{ index: 1, code: 11000, errmsg: 'E11000 duplicate key' }]);
      },
    ]);
    const batcher = new InsertBatcher(collection, { maxBatch: 500, maxInFlight: 2, retryForMs: 1000 });
    const outcomes = await Promise.all(['a', 'b', 'c'].map((_id) => batcher.insert({ _id })));
    assert.deepEqual(outcomes, ['inserted', 'duplicate', 'inserted']);
  });

  it('when the driver throws a bulk error that names no document, then nothing counts as inserted and the batch is retried', async () => {
    const { collection, calls } = scriptedCollection([
      () => {
        throw new MongoBulkWriteError(
          new Error('server selection timed out') as never,
          { insertedCount: 0 } as never,
        );
      },
      () => undefined,
    ]);
    const batcher = new InsertBatcher(collection, { maxBatch: 500, maxInFlight: 1, retryForMs: 5000 });
    const outcomes = await Promise.all([batcher.insert({ _id: 'p' }), batcher.insert({ _id: 'q' })]);
    assert.deepEqual(outcomes, ['inserted', 'inserted']);
    assert.equal(calls.length, 2, 'the whole batch went out again');
  });

  it('when a bulk error that names no document keeps coming, then callers get StoreUnavailableError, never "inserted"', async () => {
    const { collection } = scriptedCollection([
      () => {
        throw new MongoBulkWriteError(
          new Error('server selection timed out') as never,
          { insertedCount: 0 } as never,
        );
      },
    ]);
    const batcher = new InsertBatcher(collection, { maxBatch: 500, maxInFlight: 1, retryForMs: 100 });
    await assert.rejects(batcher.insert({ _id: 'r' }), { name: 'StoreUnavailableError' });
  });

  it('when SQLite says "database is locked", then the write is retried until it lands', async () => {
    const locked = new MongoServerError({ message: 'database is locked (5) (SQLITE_BUSY)', code: 1 });
    const { collection, calls } = scriptedCollection([
      () => {
        throw locked;
      },
      () => {
        throw bulkError([{ index: 0, code: 1, errmsg: 'database is locked (5) (SQLITE_BUSY)' }]);
      },
      () => undefined,
    ]);
    const retries: unknown[] = [];
    const batcher = new InsertBatcher(collection, {
      maxBatch: 500,
      maxInFlight: 1,
      retryForMs: 5000,
      onRetry: (e) => retries.push(e),
    });
    const outcomes = await Promise.all([batcher.insert({ _id: 'x' }), batcher.insert({ _id: 'y' })]);
    // Call 1 failed whole; call 2 landed y but not x; call 3 landed x.
    assert.deepEqual(outcomes, ['inserted', 'inserted']);
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[2], [{ _id: 'x' }]);
    assert.equal(retries.length, 2);
  });

  it('when the server stays busy past the retry window, then the caller gets StoreUnavailableError', async () => {
    const { collection } = scriptedCollection([
      () => {
        throw new MongoServerError({ message: 'database is locked (5) (SQLITE_BUSY)', code: 1 });
      },
    ]);
    const batcher = new InsertBatcher(collection, { maxBatch: 500, maxInFlight: 1, retryForMs: 100 });
    await assert.rejects(batcher.insert({ _id: 'z' }), { name: 'StoreUnavailableError' });
  });

  it('when a write fails for a reason that retrying cannot fix, then the caller hears it at once', async () => {
    const { collection, calls } = scriptedCollection([
      () => {
        throw new MongoServerError({ message: 'document is invalid', code: 2 });
      },
    ]);
    const batcher = new InsertBatcher(collection, { maxBatch: 500, maxInFlight: 1, retryForMs: 5000 });
    await assert.rejects(batcher.insert({ _id: 'bad' }), { code: 2 });
    assert.equal(calls.length, 1);
  });

  describe('with lingerMs (writes nobody waits on)', () => {
    /** Lets queued setImmediate callbacks and the promises after them run (not mocked). */
    const turns = async () => {
      for (let i = 0; i < 3; i += 1) await new Promise((resolve) => setImmediate(resolve));
    };
    /** A batcher whose batches wait 10 ms for more documents. */
    const lingering = (collection: Collection<Doc>, maxBatch = 500) =>
      new InsertBatcher(collection, { maxBatch, maxInFlight: 1, retryForMs: 1000, lingerMs: 10 });
    beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
    afterEach(() => mock.timers.reset());

    it('when documents arrive within the linger of the first, then they share one insertMany that waits for them', async () => {
      const { collection, calls } = scriptedCollection([() => undefined]);
      const batcher = lingering(collection);
      const first = batcher.insert({ _id: 'a' });
      await turns();
      mock.timers.tick(6);
      const second = batcher.insert({ _id: 'b' });
      await turns();
      assert.equal(calls.length, 0, 'nothing before the first has waited 10 ms');
      mock.timers.tick(4);
      await turns();
      assert.deepEqual(await Promise.all([first, second]), ['inserted', 'inserted']);
      assert.deepEqual(
        calls.map((docs) => docs.map((doc) => doc._id)),
        [['a', 'b']],
      );
    });

    it('when documents arrive while an insert is out, then they go out when it ends, without lingering', async () => {
      let release: () => void = () => undefined;
      const calls: string[][] = [];
      const collection = {
        async insertMany(docs: Doc[]) {
          calls.push(docs.map((doc) => doc._id));
          if (calls.length === 1) await new Promise<void>((resolve) => (release = resolve));
          return { acknowledged: true, insertedCount: docs.length };
        },
      } as unknown as Collection<Doc>;
      const batcher = lingering(collection);
      const first = batcher.insert({ _id: 'a' }, { now: true });
      await turns();
      const behind = batcher.insert({ _id: 'b' });
      await turns();
      release();
      await turns();
      assert.deepEqual(await Promise.all([first, behind]), ['inserted', 'inserted']);
      assert.deepEqual(calls, [['a'], ['b']], 'b went out at once, no timer ticked');
    });

    it('when the batch fills, then it goes out without waiting', async () => {
      const { collection, calls } = scriptedCollection([() => undefined]);
      const batcher = lingering(collection, 3);
      const outcomes = Promise.all(['a', 'b', 'c'].map((_id) => batcher.insert({ _id })));
      await turns();
      assert.deepEqual(await outcomes, ['inserted', 'inserted', 'inserted']);
      assert.equal(calls.length, 1);
    });

    it('when an insert is marked now, then its batch goes out without waiting, taking those before it', async () => {
      const { collection, calls } = scriptedCollection([() => undefined]);
      const batcher = lingering(collection);
      const waiting = batcher.insert({ _id: 'a' });
      await turns();
      const urgent = batcher.insert({ _id: 'b' }, { now: true });
      await turns();
      assert.deepEqual(await Promise.all([waiting, urgent]), ['inserted', 'inserted']);
      assert.deepEqual(
        calls.map((docs) => docs.map((doc) => doc._id)),
        [['a', 'b']],
      );
      // The next one lingers again.
      const later = batcher.insert({ _id: 'c' });
      await turns();
      assert.equal(calls.length, 1);
      mock.timers.tick(10);
      await turns();
      assert.equal(await later, 'inserted');
      assert.equal(calls.length, 2);
    });
  });
  describe('with overlapFrom (a second insert only for a full batch)', () => {
    /** Lets queued setImmediate callbacks and the promises after them run. */
    const turns = async () => {
      for (let i = 0; i < 3; i += 1) await new Promise((resolve) => setImmediate(resolve));
    };
    /** A collection whose inserts each wait until released, in order. */
    function heldCollection() {
      const calls: string[][] = [];
      const releases: Array<() => void> = [];
      const collection = {
        async insertMany(docs: Doc[]) {
          calls.push(docs.map((doc) => doc._id));
          await new Promise<void>((resolve) => releases.push(resolve));
          return { acknowledged: true, insertedCount: docs.length };
        },
      } as unknown as Collection<Doc>;
      return { collection, calls, releases };
    }

    it('when fewer documents than overlapFrom wait behind an insert, then they wait for it to end and go out together', async () => {
      const { collection, calls, releases } = heldCollection();
      const batcher = new InsertBatcher(collection, {
        maxBatch: 500,
        maxInFlight: 2,
        retryForMs: 1000,
        overlapFrom: 3,
      });
      const first = batcher.insert({ _id: 'a' });
      await turns();
      const behind = [batcher.insert({ _id: 'b' }), batcher.insert({ _id: 'c' })];
      await turns();
      assert.deepEqual(calls, [['a']], 'two waiting, fewer than 3: no second insert beside the first');
      releases[0]?.();
      await turns();
      assert.deepEqual(calls, [['a'], ['b', 'c']]);
      releases[1]?.();
      assert.deepEqual(await Promise.all([first, ...behind]), ['inserted', 'inserted', 'inserted']);
    });

    it('when overlapFrom documents wait behind an insert, then a second goes out beside it', async () => {
      const { collection, calls, releases } = heldCollection();
      const batcher = new InsertBatcher(collection, {
        maxBatch: 500,
        maxInFlight: 2,
        retryForMs: 1000,
        overlapFrom: 3,
      });
      const first = batcher.insert({ _id: 'a' });
      await turns();
      const behind = batcher.insertAll([{ _id: 'b' }, { _id: 'c' }, { _id: 'd' }]);
      await turns();
      assert.deepEqual(calls, [['a'], ['b', 'c', 'd']]);
      const third = batcher.insert({ _id: 'e' });
      await turns();
      assert.equal(calls.length, 2, 'never more than maxInFlight');
      releases[1]?.();
      releases[0]?.();
      await turns();
      assert.deepEqual(calls[2], ['e']);
      releases[2]?.();
      assert.deepEqual(await Promise.all([first, behind, third]), [
        'inserted',
        ['inserted', 'inserted', 'inserted'],
        'inserted',
      ]);
    });
  });
});
