/**
 * A group's marks read back from the store (store/groups/group-marks.ts): numbered documents,
 * folded into a snapshot once a reader finds many past the last one, each member's latest mark
 * winning, against the real MongoDB-wire server.
 */
import assert from 'node:assert/strict';
import { newJobId } from '../../src/jobs/job-id.js';
import { createStore, type GroupMark, type Store } from '../../src/store/index.js';
import { backends, dropDatabase, isolation, withMongo } from '../support/harness.js';

describe('group marks on a real MongoDB-wire server', function () {
  this.timeout(60_000);
  let store: Store;
  let dbName: string;

  beforeEach(() => {
    dbName = isolation('marks').dbName;
    store = createStore({ url: backends().mongoUrl, dbName, timeoutMs: 5000, insertRetryMs: 3000 });
  });
  afterEach(async () => {
    await store.close();
    await dropDatabase(dbName);
  });

  /** Marks one at a time: each its own numbered document. */
  async function markEach(group: string, marks: readonly GroupMark[]): Promise<void> {
    for (const mark of marks) await store.markGroupJob(group, mark);
  }

  const snapshotOf = (group: string) =>
    withMongo(dbName, (db) =>
      db.collection<{ _id: string; through: number }>('group_marks').findOne({ _id: `${group}/snapshot` }),
    );

  it('when a group has many marks, then a read folds them into a snapshot, and reads from the snapshot and the marks after it give every latest mark', async () => {
    const group = newJobId();
    const members = Array.from({ length: 30 }, () => newJobId()).sort();
    const t0 = Date.now();
    // One mark per member, each kind of field carried by some: 30 numbered documents.
    const first: GroupMark[] = members.map((id, i) => {
      const at = new Date(t0 + i * 10);
      if (i % 10 === 3) return { id, state: 'failed', at, startedAt: new Date(t0), error: `boom ${i}` };
      if (i % 10 === 5) return { id, state: 'cancelled', at };
      if (i % 10 === 7)
        return { id, state: 'completed', at, startedAt: new Date(t0 + 1), resultOmitted: true };
      return { id, state: 'completed', at, startedAt: new Date(t0 + 2), result: { hash: `h${i}`, n: i } };
    });
    await markEach(group, first);
    assert.equal(await snapshotOf(group), null, 'no reader yet: no snapshot');

    const read1 = await store.readGroupMarks(group, Promise.resolve(members));
    assert.equal(read1.last, 30);
    assert.equal(read1.size, 30);
    for (const mark of first) assert.deepEqual(read1.get(mark.id), mark);
    const snapshot = await snapshotOf(group);
    assert.equal(snapshot?.through, 30, 'more than 16 marks past none: the reader wrote a snapshot');

    // Read back from the snapshot alone: the same marks, decoded from its aligned form.
    const read2 = await store.readGroupMarks(group, Promise.resolve(members));
    assert.equal(read2.last, 30);
    assert.deepEqual(new Map(read2), new Map(read1));

    // After the snapshot: a retry (queued again), then its new end; a late mark older than
    // what is known; more than eight documents, so that the reader probes past its first batch.
    const retried = members[3] as string;
    const late = members[0] as string;
    const after: GroupMark[] = [
      { id: retried, state: 'queued', at: new Date(t0 + 1_000) },
      { id: late, state: 'failed', at: new Date(t0 - 1_000), error: 'older than its mark' },
      ...members
        .slice(10, 19)
        .map((id, k): GroupMark => ({ id, state: 'cancelled', at: new Date(t0 + 2_000 + k) })),
      { id: retried, state: 'completed', at: new Date(t0 + 3_000), result: { hash: 'again' } },
    ];
    await markEach(group, after);
    const read3 = await store.readGroupMarks(group, Promise.resolve(members));
    assert.equal(read3.last, 30 + after.length);
    assert.deepEqual(read3.get(retried), after.at(-1));
    assert.deepEqual(read3.get(late), first[0], 'a mark older than the known one changes nothing');
    for (const [k, id] of members.slice(10, 19).entries())
      assert.deepEqual(read3.get(id), { id, state: 'cancelled', at: new Date(t0 + 2_000 + k) });
    assert.deepEqual(read3.get(members[29] as string), first[29]);
    assert.equal(read3.size, 30);
  });

  it('when a group has no marks, then a read finds none and says so with its last number 0', async () => {
    const members = [newJobId(), newJobId()];
    const read = await store.readGroupMarks(newJobId(), Promise.resolve(members));
    assert.equal(read.size, 0);
    assert.equal(read.last, 0);
  });
});
