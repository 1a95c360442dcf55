/**
 * The insert batcher above a stand-in collection: how it coalesces and what it retries.
 * (Against the real server it is exercised by test/integration/store.test.ts.)
 */
import assert from 'node:assert/strict';
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
});
