/** A worker's outcome counting above the store (worker-stats.ts, tallyOutcomes), over an in-memory stand-in. */
import assert from 'node:assert/strict';
import { Tally } from '../../../../src/jobs/tally.js';
import { silentLogger } from '../../../../src/log.js';
import type { NoticeDocument, ResultDocument, Store, TallyDocument } from '../../../../src/store/index.js';
import { tallyOutcomes } from '../../../../src/worker/observe/worker-stats.js';

function outcome(id: string, worker = 'w:1:0'): ResultDocument {
  const at = new Date('2026-11-30T12:00:00Z');
  return {
    _id: id,
    type: 'hash',
    outcome: 'completed',
    worker,
    attempt: 1,
    startedAt: at,
    finishedAt: at,
    durationMs: 0,
  };
}

/** Stores outcomes in memory; `landLost` makes the next insert land but answer as a duplicate (a lost answer, retried). */
function memoryStore() {
  const results = new Map<string, ResultDocument>();
  const tallies: TallyDocument[] = [];
  const notices: Array<Omit<NoticeDocument, '_id'>> = [];
  let landLost = false;
  let hangNext = false;
  const store = {
    async saveResult(doc: ResultDocument) {
      if (hangNext) {
        hangNext = false;
        return new Promise<never>(() => undefined);
      }
      if (results.has(doc._id)) return 'duplicate' as const;
      results.set(doc._id, doc);
      if (landLost) {
        landLost = false;
        return 'duplicate' as const;
      }
      return 'inserted' as const;
    },
    findResult: async (id: string) => results.get(id) ?? null,
    saveTally: async (doc: TallyDocument) => {
      tallies.push(structuredClone(doc));
    },
    saveNotice: async (doc: Omit<NoticeDocument, '_id'>) => {
      notices.push(structuredClone(doc));
    },
    findTotals: async () => null,
  };
  return {
    store: store as unknown as Store,
    results,
    last: () => tallies.at(-1),
    notices,
    loseNextAnswer: () => {
      landLost = true;
    },
    hangNextWrite: () => {
      hangNext = true;
    },
  };
}

describe('worker outcome counting (unit)', () => {
  it('when an insert landed on a try whose answer was lost, then its duplicate is counted as this run’s, not as a maybe', async () => {
    const m = memoryStore();
    const tally = new Tally({ id: 'w#1', store: m.store, log: silentLogger(), role: 'worker' });
    const { store, counted } = tallyOutcomes(m.store, tally, () => undefined, 60_000);
    m.loseNextAnswer();
    assert.equal(await store.saveResult(outcome('a')), 'inserted');
    await counted('a');
    assert.equal(m.last()?.counts.hash?.completed, 1);
    assert.deepEqual(m.last()?.maybes, []);
    await tally.stop();
  });

  it('when another delivery stored the outcome first, then it is not counted here but noted as a maybe for its tally', async () => {
    const m = memoryStore();
    m.results.set('b', { ...outcome('b', 'w:2:0'), tally: { w: 'w#2', k: 4 } });
    const tally = new Tally({ id: 'w#1', store: m.store, log: silentLogger(), role: 'worker' });
    const { store, counted } = tallyOutcomes(m.store, tally, () => undefined, 60_000);
    assert.equal(await store.saveResult(outcome('b')), 'duplicate');
    await counted('b');
    assert.equal(m.last()?.counts.hash?.completed ?? 0, 0);
    assert.deepEqual(
      m.last()?.maybes.map((x) => [x.job, x.w, x.k]),
      [['b', 'w#2', 4]],
    );
    await tally.stop();
  });

  it('when an outcome write never answers, then it fails at the deadline and later outcomes are still counted', async () => {
    const m = memoryStore();
    const tally = new Tally({ id: 'w#1', store: m.store, log: silentLogger(), role: 'worker' });
    const { store, counted } = tallyOutcomes(m.store, tally, () => undefined, 200);
    m.hangNextWrite();
    await assert.rejects(store.saveResult(outcome('stuck')), { name: 'StoreUnavailableError' });
    assert.equal(await store.saveResult(outcome('next')), 'inserted');
    // Tags commit in order: this resolves only because the stuck write's tag was settled.
    await counted('next');
    assert.equal(m.last()?.counts.hash?.completed, 1);
    await tally.stop();
  });

  it('when outcomes are counted, then the commit names them in a notice it seals, found-stored ones too', async () => {
    const m = memoryStore();
    m.results.set('old', { ...outcome('old', 'w:2:0'), tally: { w: 'w#2', k: 1 } });
    const tally = new Tally({ id: 'w#1', store: m.store, log: silentLogger(), role: 'worker' });
    const { store, counted } = tallyOutcomes(m.store, tally, () => undefined, 60_000);
    await store.saveResult(outcome('new'));
    await store.saveResult(outcome('old'));
    await Promise.all([counted('new'), counted('old')]);
    assert.deepEqual(
      m.notices.map((n) => [n.tally, n.n, n.entries.map((e) => [e.id, e.state])]),
      [
        [
          'w#1',
          1,
          [
            ['new', 'completed'],
            ['old', 'completed'],
          ],
        ],
      ],
    );
    assert.equal(m.last()?.notices, 1, 'the tally saved after it seals notice 1');
    await tally.stop();
  });
});
