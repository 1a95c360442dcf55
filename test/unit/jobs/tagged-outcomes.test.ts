/** The outcome inserts a tally has tagged and not yet committed (jobs/tagged-outcomes). */
import assert from 'node:assert/strict';
import { TaggedOutcomes } from '../../../src/jobs/tagged-outcomes.js';

const at = new Date('2026-12-06T12:00:00Z');

describe('tagged outcomes', () => {
  it('when a commit closes a number, then it waits for every insert tagged with it and takes what they counted', async () => {
    const tagged = new TaggedOutcomes();
    const first = tagged.tag();
    const second = tagged.tag();
    tagged.count(first, { type: 'hash', outcome: 'completed' });
    tagged.noteEnd(first, { id: 'a', state: 'completed', at, type: 'hash' });
    tagged.release(first);

    let closed = false;
    const closing = tagged.close().then((taken) => {
      closed = true;
      return taken;
    });
    // A number tagged after the close belongs to the next commit.
    const later = tagged.tag();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false, 'the close waits for the second insert of its number');

    tagged.count(second, { type: 'hash', outcome: 'failed' });
    tagged.release(second);
    const taken = await closing;

    assert.equal(taken.k, first);
    assert.deepEqual(taken.counts, [{ hash: { completed: 1, failed: 1, cancelled: 0 } }]);
    assert.deepEqual(
      taken.ends.map((end) => end.id),
      ['a'],
    );
    assert.equal(later, first + 1);
    assert.equal(tagged.idle, false, 'the later tag is still on its way');
    tagged.release(later);
    assert.equal(tagged.idle, true);
  });

  it('when a later number settles first, then a close of an earlier one leaves its counts for the next', async () => {
    const tagged = new TaggedOutcomes();
    const first = tagged.tag();
    const closing = tagged.close();
    const later = tagged.tag();
    tagged.count(later, { type: 'hash', outcome: 'completed' });
    tagged.noteEnd(later, { id: 'b', state: 'completed', at, type: 'hash' });
    tagged.release(later);
    tagged.release(first);

    const taken = await closing;
    const next = await tagged.close();

    assert.deepEqual([taken.k, taken.counts, taken.ends], [first, [], []]);
    assert.equal(next.k, later);
    assert.deepEqual(next.counts, [{ hash: { completed: 1, failed: 0, cancelled: 0 } }]);
    assert.deepEqual(
      next.ends.map((end) => end.id),
      ['b'],
    );
    assert.equal(tagged.idle, true);
  });
});
