/**
 * Retention deletes a segment's jobs with one bulk delete by `_id` per collection
 * (store/records/background-writes.ts). Our FerretDB build deletes such a command's statements
 * in one SQLite transaction (scripts/ferretdb/deletes-by-id-together.patch); unpatched, each
 * deleted document is a commit of its own, which the write-ahead log shows: measured here, 500
 * deletes grew it by 3.9 MB unpatched and by 49 KB patched. The counts must not change.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ObjectId } from 'mongodb';
import { ownFerretdb } from '../support/own-ferretdb.js';

describe('bulk deletes by _id on the MongoDB-wire server', function () {
  this.timeout(60_000);
  // Its own server: the test reads the write-ahead log's size.
  const { db, dataDir } = ownFerretdb('dw-deletes-');

  it('when 500 documents are deleted by _id in one bulk write, then they go in one transaction, not a commit each', async () => {
    const collection = db('deletes_wal').collection<{ _id: string; n: number }>('jobs');
    await collection.insertMany(Array.from({ length: 500 }, (_, n) => ({ _id: `job-${n}`, n })));
    const wal = join(dataDir(), 'deletes_wal.sqlite-wal');
    const before = statSync(wal).size;
    const result = await collection.bulkWrite(
      Array.from({ length: 500 }, (_, n) => ({ deleteOne: { filter: { _id: `job-${n}` } } })),
      { ordered: false },
    );
    const grew = statSync(wal).size - before;
    assert.equal(result.deletedCount, 500);
    assert.equal(await collection.countDocuments(), 0);
    // One commit per document writes at least a table page and an index page each (about 4 MB).
    assert.ok(grew < 500_000, `the write-ahead log grew by ${grew} bytes for 500 deletes`);
  });

  it('when deletes by _id repeat, miss, mix with other filters and other _id types, then the counts and the documents left are as MongoDB would leave them', async () => {
    const collection = db('deletes_counts').collection<{ _id: string | number | ObjectId; t: number }>('c');
    const oid = new ObjectId();
    await collection.insertMany([
      { _id: 'a', t: 1 },
      { _id: 'b', t: 1 },
      { _id: 'c', t: 2 },
      { _id: 'd', t: 2 },
      { _id: 5, t: 3 },
      { _id: 6.5, t: 3 },
      { _id: oid, t: 4 },
    ]);
    const unordered = await collection.bulkWrite(
      [
        { deleteOne: { filter: { _id: 'a' } } },
        { deleteOne: { filter: { _id: 'a' } } },
        { deleteOne: { filter: { _id: 'not-there' } } },
        { deleteOne: { filter: { _id: oid } } },
      ],
      { ordered: false },
    );
    assert.equal(unordered.deletedCount, 2, "'a' once, and the ObjectId");
    const ordered = await collection.bulkWrite(
      [
        { deleteOne: { filter: { _id: 'b' } } },
        { deleteMany: { filter: { t: 2 } } },
        { deleteOne: { filter: { _id: 5 } } },
        { deleteOne: { filter: { _id: 'b' } } },
      ],
      { ordered: true },
    );
    assert.equal(ordered.deletedCount, 4, "'b', then 'c' and 'd' by their t, then the number 5");
    assert.deepEqual(await collection.find().toArray(), [{ _id: 6.5, t: 3 }]);
    assert.equal((await collection.deleteMany({ _id: 6.5 })).deletedCount, 1);
  });
});
