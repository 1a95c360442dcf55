/** The outcome-count fold (manager/totals.ts) over an in-memory stand-in for its four store calls. */
import assert from 'node:assert/strict';
import { foldTallies, RETIRE_AFTER_MS, readOutcomeCounts } from '../../../../src/manager/stats/totals.js';
import type { MaybeCount, Store, TallyDocument, TotalsDocument } from '../../../../src/store/index.js';

function memoryStore() {
  const tallies = new Map<string, TallyDocument>();
  let totals: TotalsDocument | null = null;
  const deletedNotices: Array<[string, number]> = [];
  const store = {
    listTallies: async () => [...tallies.values()].map((t) => structuredClone(t)),
    findTotals: async () => (totals ? structuredClone(totals) : null),
    saveTotals: async (doc: TotalsDocument) => {
      totals = structuredClone(doc);
    },
    deleteTally: async (id: string) => {
      tallies.delete(id);
    },
    deleteNotices: async (tally: string, written: number) => {
      deletedNotices.push([tally, written]);
    },
  };
  return { store: store as unknown as Store, tallies, totals: () => totals, deletedNotices };
}

const t0 = new Date('2026-11-30T12:00:00Z');
const later = (ms: number) => new Date(t0.getTime() + ms);

function tally(
  id: string,
  seq: number,
  completed: number,
  extra: Partial<TallyDocument> = {},
): TallyDocument {
  return {
    _id: id,
    role: 'worker',
    seq,
    counts: { hash: { completed, failed: 0, cancelled: 0 } },
    maybes: [],
    updatedAt: t0,
    ...extra,
  };
}

function maybe(job: string, w: string, k: number): MaybeCount {
  return { job, w, k, type: 'hash', outcome: 'completed', at: t0 };
}

describe('outcome tallies: the fold', () => {
  it('when tallies are live, then the counts are theirs and nothing is retired', async () => {
    const m = memoryStore();
    m.tallies.set('a', tally('a', 3, 10));
    m.tallies.set('b', tally('b', 2, 5));
    const report = await foldTallies(m.store, later(1000));
    assert.deepEqual(report, { retired: 0, counted: 0, dropped: 0 });
    assert.deepEqual(await readOutcomeCounts(m.store), { hash: { completed: 15, failed: 0, cancelled: 0 } });
  });

  it('when a tally has been quiet past the retirement delay, then its counts move into the totals once', async () => {
    const m = memoryStore();
    m.tallies.set('dead', tally('dead', 7, 40, { notices: 5 }));
    m.tallies.set('live', tally('live', 1, 2, { updatedAt: later(RETIRE_AFTER_MS) }));
    assert.equal((await foldTallies(m.store, later(RETIRE_AFTER_MS + 1))).retired, 1);
    assert.equal(m.tallies.has('dead'), false, 'its document is deleted');
    assert.deepEqual(m.deletedNotices, [['dead', 5]], 'and its completion notices with it');
    assert.equal(m.totals()?.retired.dead?.seq, 7);
    await foldTallies(m.store, later(RETIRE_AFTER_MS + 2));
    assert.deepEqual(await readOutcomeCounts(m.store), { hash: { completed: 42, failed: 0, cancelled: 0 } });
  });

  it('when a redelivered outcome was committed by the tally it was stored under, then its maybe is dropped', async () => {
    const m = memoryStore();
    m.tallies.set('first', tally('first', 5, 10));
    m.tallies.set('second', tally('second', 1, 0, { maybes: [maybe('job-1', 'first', 5)] }));
    assert.deepEqual(await foldTallies(m.store, later(1000)), { retired: 0, counted: 0, dropped: 1 });
    assert.equal((await readOutcomeCounts(m.store)).hash?.completed, 10);
  });

  it('when the first tally died before committing it, then the maybe waits, then is counted once at its retirement', async () => {
    const m = memoryStore();
    m.tallies.set('first', tally('first', 4, 10));
    // Reported twice: two later deliveries of the same job.
    m.tallies.set(
      'second',
      tally('second', 1, 0, { maybes: [maybe('job-1', 'first', 5)], updatedAt: later(RETIRE_AFTER_MS) }),
    );
    m.tallies.set(
      'third',
      tally('third', 1, 0, { maybes: [maybe('job-1', 'first', 5)], updatedAt: later(RETIRE_AFTER_MS) }),
    );
    assert.deepEqual(
      await foldTallies(m.store, later(1000)),
      { retired: 0, counted: 0, dropped: 0 },
      'first may still commit',
    );
    assert.deepEqual(await foldTallies(m.store, later(RETIRE_AFTER_MS + 1)), {
      retired: 1,
      counted: 1,
      dropped: 0,
    });
    await foldTallies(m.store, later(RETIRE_AFTER_MS + 2));
    assert.equal(
      (await readOutcomeCounts(m.store)).hash?.completed,
      11,
      '10 committed + the one it never committed',
    );
  });

  it('when a fold died after saving the totals, then the next fold deletes the retired tally without counting it again', async () => {
    const m = memoryStore();
    m.tallies.set('dead', tally('dead', 2, 9));
    await foldTallies(m.store, later(RETIRE_AFTER_MS + 1));
    m.tallies.set('dead', tally('dead', 2, 9)); // the delete never happened
    assert.equal((await readOutcomeCounts(m.store)).hash?.completed, 9, 'not counted twice meanwhile');
    await foldTallies(m.store, later(RETIRE_AFTER_MS + 2));
    assert.equal(m.tallies.has('dead'), false);
    assert.equal((await readOutcomeCounts(m.store)).hash?.completed, 9);
  });

  it('when the first tally committed past the outcome but lists it as unsure (its insert failed unanswered), then the maybe is counted', async () => {
    const m = memoryStore();
    m.tallies.set('first', tally('first', 9, 10, { unsure: [{ job: 'job-1', k: 5, at: t0 }] }));
    m.tallies.set('second', tally('second', 1, 0, { maybes: [maybe('job-1', 'first', 5)] }));
    assert.deepEqual(await foldTallies(m.store, later(1000)), { retired: 0, counted: 1, dropped: 0 });
    assert.equal((await readOutcomeCounts(m.store)).hash?.completed, 11);
  });
});
