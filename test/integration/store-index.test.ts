/**
 * Reads by `_id` are index reads on the MongoDB-wire server the tests run against. On FerretDB
 * that holds only with our build's patch (scripts/ferretdb/index-on-pushdown-path.patch):
 * unpatched, SQLite scans the table for every point read. FerretDB's explain answers SQLite's
 * own EXPLAIN QUERY PLAN; MongoDB's names its winning plan's stages.
 */
import assert from 'node:assert/strict';
import type { Document } from 'mongodb';
import { COLLECTIONS } from '../../src/store/collections.js';
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
