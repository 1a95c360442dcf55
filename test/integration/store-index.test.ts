/**
 * Reads by `_id` are index reads on the MongoDB-wire server the tests run against. On FerretDB
 * that holds only with our build's patch (scripts/ferretdb/index-on-pushdown-path.patch):
 * unpatched, SQLite scans the table for every point read. Reads of several ids at once,
 * `{_id: {$in: [...]}}`, likewise (scripts/ferretdb/pushdown-id-in.patch). FerretDB's explain
 * answers SQLite's own EXPLAIN QUERY PLAN; MongoDB's names its winning plan's stages.
 */
import assert from 'node:assert/strict';
import type { Document } from 'mongodb';
import { COLLECTIONS } from '../../src/store/collections.js';
import { pointReader } from '../../src/store/driver/point-reads.js';
import { dropDatabase, isolation, withMongo } from '../support/harness.js';

/** SQLite's plan lines (FerretDB) or every stage name in the winning plan (MongoDB). */
function planOf(explained: Document): string[] {
  const planner = explained.queryPlanner as Document | undefined;
  if (Array.isArray(planner?.Plan)) return planner.Plan.map(String);
  const stages: string[] = [];
  const walk = (stage: Document | undefined) => {
    if (!stage) return;
    stages.push(String(stage.stage));
    walk(stage.inputStage as Document | undefined);
  };
  walk(planner?.winningPlan as Document | undefined);
  return stages;
}

const isIndexRead = (plan: string[]) =>
  plan.some((line) => /USING (COVERING )?INDEX|^IDHACK$|^EXPRESS_IXSCAN$|^IXSCAN$/.test(line)) &&
  !plan.some((line) => /\bSCAN \w+$|^COLLSCAN$/.test(line));

describe('point reads on the MongoDB-wire server', function () {
  this.timeout(30_000);
  const { dbName } = isolation('index');
  after(() => dropDatabase(dbName));

  for (const name of Object.values(COLLECTIONS)) {
    it(`when ${name} is read by _id, then the server answers from the _id index`, async () => {
      const plan = await withMongo(dbName, async (db) => {
        const collection = db.collection<{ _id: string; n: number }>(name);
        // Created now, after start, like every collection the system makes on first write.
        await collection.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `doc-${n}`, n })));
        return planOf(await collection.find({ _id: 'doc-7' }).explain());
      });
      assert.ok(isIndexRead(plan), `plan: ${plan.join(' | ')}`);
    });
  }

  it('when several ids are read at once ($in), then the server answers from the _id index, and only from it', async () => {
    const [plan, numbers] = await withMongo(dbName, async (db) => {
      const collection = db.collection<{ _id: string | number; n: number }>('several');
      await collection.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `doc-${n}`, n })));
      return [
        planOf(await collection.find({ _id: { $in: ['doc-7', 'doc-9', 'missing'] } }).explain()),
        // A number is not pushed down (6 must still match 6.0): the same check then sees a scan
        // on FerretDB. MongoDB answers it from its index too, so only FerretDB's plan is asserted.
        planOf(await collection.find({ _id: { $in: ['doc-7', 6] } }).explain()),
      ];
    });
    assert.ok(isIndexRead(plan), `plan: ${plan.join(' | ')}`);
    // SQLite's plan lines (FerretDB) carry `detail=`; MongoDB's stage names (IXSCAN) do not.
    if (numbers.some((line) => line.includes('detail=')))
      assert.ok(!isIndexRead(numbers), `plan: ${numbers.join(' | ')}`);
  });

  it('when reads of many ids come together, then each caller gets its own document or null, as one read at a time would', async () => {
    const answers = await withMongo(dbName, async (db) => {
      const collection = db.collection<{ _id: string; n: number }>('together');
      await collection.insertMany(Array.from({ length: 300 }, (_, n) => ({ _id: `doc-${n}`, n })));
      const read = pointReader<{ _id: string; n: number }>(db, 'together', { idsPerRead: 40 });
      // 250 reads in one turn: seven $in reads of up to 40 ids; some twice, some missing.
      const ids = Array.from({ length: 250 }, (_, i) =>
        i % 10 === 9 ? `gone-${i}` : `doc-${(i * 7) % 320}`,
      );
      return Promise.all(ids.map(async (id) => [id, await read(id)] as const));
    });
    for (const [id, doc] of answers) {
      const n = Number(id.slice(4));
      if (id.startsWith('gone-') || n >= 300) assert.equal(doc, null, id);
      else assert.deepEqual(doc, { _id: id, n }, id);
    }
  });

  it('when a read is not a single _id equality, then the same check sees a scan (it can fail)', async () => {
    const plan = await withMongo(dbName, async (db) => {
      const collection = db.collection<{ _id: string; n: number }>('control');
      await collection.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `doc-${n}`, n })));
      return planOf(await collection.find({ n: 7 }).explain());
    });
    assert.ok(!isIndexRead(plan), `plan: ${plan.join(' | ')}`);
  });

  it('when database and collection sizes are asked (as Mongo Express does), then the server answers them', async () => {
    // Our FerretDB build answers these from SQLite's dbstat table, which the C build must compile in
    // (scripts/install-backends.sh, the sqlite_dbstat tag): without it both fail with "no such table".
    const [database, collection] = await withMongo(dbName, async (db) => {
      await db.collection<{ _id: string }>('sized').insertOne({ _id: 'doc' });
      return [await db.stats(), await db.command({ collStats: 'sized' })];
    });
    assert.equal(database.ok, 1);
    assert.ok(Number(database.objects) >= 1, JSON.stringify(database));
    assert.equal(collection.count, 1, JSON.stringify(collection));
  });
});
