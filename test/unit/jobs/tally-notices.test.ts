/** The completion notices a tally writes with its commits (jobs/tally.ts), over a scripted stand-in store. */
import assert from 'node:assert/strict';
import { Tally } from '../../../src/jobs/tally.js';
import { silentLogger } from '../../../src/log.js';
import type { NoticeDocument, TallyCommits, TallyDocument } from '../../../src/store/index.js';
import { waitFor } from '../../support/harness.js';

const at = new Date('2026-11-30T12:00:00Z');
const ended = (id: string) => ({ _id: id, type: 'hash', outcome: 'completed' as const, finishedAt: at });

function scriptedStore() {
  const notices: Array<Omit<NoticeDocument, '_id'>> = [];
  const tallies: TallyDocument[] = [];
  let failTallies = 0;
  const store: TallyCommits = {
    async saveNotice(doc) {
      notices.push(structuredClone(doc));
    },
    async saveTally(doc) {
      if (failTallies > 0) {
        failTallies -= 1;
        throw new Error('store down');
      }
      tallies.push(structuredClone(doc));
    },
    findTotals: async () => null,
  };
  return {
    store,
    notices,
    tallies,
    failNextTallies: (n: number) => {
      failTallies = n;
    },
  };
}

describe('completion notices of a tally (jobs/tally)', () => {
  it('when several outcomes share a tag, then each waiter is answered by the one commit; when the tally stops first, each is rejected', async () => {
    const s = scriptedStore();
    const tally = new Tally({ id: 'w#1', store: s.store, log: silentLogger(), role: 'worker' });
    const k = tally.tag();
    tally.tag();
    tally.settle(k, ended('a'));
    tally.settle(k, ended('b'));
    const waits = [tally.committed(k), tally.committed(k)];

    await Promise.all(waits);

    assert.equal(s.tallies.at(-1)?.seq, k, 'committed through the tag');
    assert.deepEqual(
      s.notices.at(-1)?.entries.map((e) => e.id),
      ['a', 'b'],
    );

    const later = tally.tag();
    tally.settle(later, ended('c'));
    s.failNextTallies(10);
    const stopped = [tally.committed(later), tally.committed(later)].map((wait) =>
      wait.then(
        () => 'counted',
        (error: unknown) => String(error),
      ),
    );
    await tally.stop();
    assert.deepEqual(await Promise.all(stopped), [
      'Error: the outcome tally stopped before counting this outcome',
      'Error: the outcome tally stopped before counting this outcome',
    ]);
  });

  it('when a commit fails after its notice went out, then the next writes the same notice again with everything since, and seals it', async () => {
    const s = scriptedStore();
    const tally = new Tally({ id: 'w#1', store: s.store, log: silentLogger(), role: 'worker' });
    s.failNextTallies(1);
    const k1 = tally.tag();
    tally.settle(k1, ended('a'));
    const first = tally.committed(k1);
    const k2 = tally.tag();
    tally.settle(k2, ended('b'));
    await first;
    await tally.committed(k2);
    const sealed = s.tallies.at(-1);
    assert.equal(sealed?.notices, 1, 'one notice sealed');
    // Notice 1 went out once alone (its tally save failed), then again with b as well.
    const ones = s.notices.filter((n) => n.n === 1).map((n) => n.entries.map((e) => e.id));
    assert.deepEqual(ones.at(-1), ['a', 'b'], 'the sealed version names both');
    assert.ok(ones.length >= 2, 'written again, not numbered anew');
    const k3 = tally.tag();
    tally.settle(k3, ended('c'));
    await tally.committed(k3);
    assert.deepEqual(
      s.notices.at(-1) && [s.notices.at(-1)?.n, s.notices.at(-1)?.entries.map((e) => e.id)],
      [2, ['c']],
      'the next commit starts notice 2 with only what is new',
    );
    assert.equal(s.tallies.at(-1)?.notices, 2);
    await tally.stop();
  });

  it('when a commit counts nothing that ended, then it writes no notice and keeps the sealed number', async () => {
    const s = scriptedStore();
    const tally = new Tally({ id: 'w#1', store: s.store, log: silentLogger(), role: 'worker' });
    const k = tally.tag();
    tally.settle(k);
    await tally.committed(k);
    assert.equal(s.notices.length, 0);
    assert.equal(s.tallies.at(-1)?.notices, 0);
    await tally.stop();
  });

  it('when the last commit at stop fails once, then it is tried again and the final counts are saved', async () => {
    const s = scriptedStore();
    const tally = new Tally({ id: 'w#1', store: s.store, log: silentLogger(), role: 'worker' });
    tally.settle(tally.tag(), ended('last'));
    s.failNextTallies(1);
    await tally.stop();
    const saved = s.tallies.at(-1);
    assert.equal(saved?.final, true, 'the final commit landed');
    assert.equal(saved?.counts.hash?.completed, 1);
    assert.equal(saved?.notices, 1);
  });

  it('when jobs start and report progress, then the next notice carries them (with nothing counted), before any end', async () => {
    const s = scriptedStore();
    const tally = new Tally({ id: 'w#2', store: s.store, log: silentLogger(), role: 'worker' });
    tally.noteEvent({ id: 'a', kind: 'started', at, type: 'hash', group: 'g', attempt: 1 });
    tally.noteEvent({ id: 'a', kind: 'progress', at, type: 'hash', attempt: 1, percent: 30 });
    await waitFor('a commit', () => s.tallies.length > 0, 5000, 5);
    assert.equal(s.tallies.at(-1)?.notices, 1, 'a notice sealed for events alone');
    assert.deepEqual(
      s.notices.at(-1)?.events?.map((e) => [e.id, e.kind, e.percent]),
      [
        ['a', 'started', undefined],
        ['a', 'progress', 30],
      ],
    );
    assert.deepEqual(s.notices.at(-1)?.entries, []);
    const k = tally.tag();
    tally.settle(k, { ...ended('a'), group: 'g' });
    await tally.committed(k);
    const last = s.notices.at(-1);
    assert.equal(last?.n, 2);
    assert.equal(last?.events, undefined, 'events go out once');
    assert.deepEqual(
      last?.entries.map((e) => [e.id, e.type, e.group]),
      [['a', 'hash', 'g']],
    );
    await tally.stop();
  });

  it('when an outcome is counted, then its notice entry says when its insert was acknowledged, after the job ended', async () => {
    const s = scriptedStore();
    const tally = new Tally({ id: 'w#1', store: s.store, log: silentLogger(), role: 'worker' });
    const k = tally.tag();
    const before = Date.now();
    tally.settle(k, ended('a'));
    const after = Date.now();
    await tally.committed(k);
    const entry = s.notices.at(-1)?.entries[0];
    assert.equal(entry?.id, 'a');
    assert.ok(entry.storedAt instanceof Date, 'storedAt is set');
    const storedAt = entry.storedAt.getTime();
    assert.ok(storedAt >= before && storedAt <= after, 'taken when the insert settled');
    assert.equal(entry.at.getTime(), at.getTime(), 'at stays the job end (finishedAt)');
    await tally.stop();
  });
});
