/** When a tally commits (jobs/tally.ts, jobs/commit-pace.ts): at once for a slot with nothing else to do, later when another slot is free. */
import assert from 'node:assert/strict';
import { mock } from 'node:test';
import { MIN_COMMIT_GAP_MS, SPARE_SLOT_COMMIT_GAP_MS } from '../../../src/jobs/commit-pace.js';
import { Tally } from '../../../src/jobs/tally.js';
import { silentLogger } from '../../../src/log.js';
import type { TallyCommits, TallyDocument } from '../../../src/store/index.js';

const ended = (id: string) => ({
  _id: id,
  type: 'hash',
  outcome: 'completed' as const,
  finishedAt: new Date(),
});

/** Lets the tally's awaited store calls and the promises after them run (setImmediate is not mocked). */
const settleTurns = async () => {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

describe('when a tally commits (jobs/tally)', () => {
  let tallies: TallyDocument[];
  let tally: Tally;

  beforeEach(async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
    tallies = [];
    const store: TallyCommits = {
      saveNotice: async () => undefined,
      saveTally: async (doc) => {
        tallies.push(structuredClone(doc));
      },
      findTotals: async () => null,
    };
    tally = new Tally({ id: 'w#1', store, log: silentLogger(), role: 'worker' });
    // A first commit, so that the next one has a gap to keep after it.
    const k = tally.tag();
    tally.settle(k, ended('first'));
    const first = tally.committed(k);
    mock.timers.tick(0);
    await settleTurns();
    await first;
    assert.equal(tallies.length, 1);
  });

  afterEach(async () => {
    const stopping = tally.stop();
    await settleTurns();
    mock.timers.reset();
    await stopping;
  });

  /** Ends one job and waits for its commit, as a worker slot does before its delete. */
  function endAndWait(id: string): { done: () => boolean } {
    const k = tally.tag();
    tally.settle(k, ended(id));
    let done = false;
    void tally.committed(k).then(() => {
      done = true;
    });
    return { done: () => done };
  }

  it('when the slot asking has no other slot free, then the commit goes out at once', async () => {
    const waiting = endAndWait('a');
    tally.commitSoon(false);
    mock.timers.tick(0);
    await settleTurns();
    assert.equal(waiting.done(), true);
    assert.equal(tallies.length, 2);
  });

  it('when another slot is free, then the commit waits out the short gap after the last one, and the ends meanwhile join it', async () => {
    const a = endAndWait('a');
    tally.commitSoon(true);
    mock.timers.tick(SPARE_SLOT_COMMIT_GAP_MS - 1);
    await settleTurns();
    assert.equal(a.done(), false, 'not before the gap');
    const b = endAndWait('b');
    tally.commitSoon(true);
    mock.timers.tick(1);
    await settleTurns();
    assert.deepEqual([a.done(), b.done()], [true, true]);
    assert.equal(tallies.length, 2, 'one commit for both');
    assert.equal(tallies.at(-1)?.counts.hash?.completed, 3);
  });

  it('when one slot has another free and the next has none, then the commit goes out at once', async () => {
    const a = endAndWait('a');
    tally.commitSoon(true);
    mock.timers.tick(1);
    await settleTurns();
    assert.equal(a.done(), false);
    tally.commitSoon(false);
    mock.timers.tick(0);
    await settleTurns();
    assert.equal(a.done(), true);
  });

  it('when nobody asks for it, then a waited-for commit keeps the gap under load', async () => {
    const a = endAndWait('a');
    mock.timers.tick(MIN_COMMIT_GAP_MS - 1);
    await settleTurns();
    assert.equal(a.done(), false);
    mock.timers.tick(1);
    await settleTurns();
    assert.equal(a.done(), true);
  });
});
