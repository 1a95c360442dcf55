/** Who waits for a tally's commit, by tag (jobs/commit-waiters.ts). */
import assert from 'node:assert/strict';
import { CommitWaiters } from '../../../src/jobs/commit-waiters.js';

/** 'waiting' until the promise settles, then 'answered' or the rejection's message. */
function watch(promise: Promise<void>) {
  let state = 'waiting';
  promise.then(
    () => {
      state = 'answered';
    },
    (error: unknown) => {
      state = error instanceof Error ? error.message : String(error);
    },
  );
  return () => state;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('commit waiters (jobs/commit-waiters)', () => {
  it('when jobs wait for the same tag, then they share one promise', () => {
    const waiters = new CommitWaiters();

    const first = waiters.wait(3);
    const second = waiters.wait(3);

    assert.equal(first, second);
    assert.equal(waiters.size, 1);
  });

  it('when a commit reaches tag k, then the waiters of k and below go on and those above keep waiting', async () => {
    const waiters = new CommitWaiters();
    const two = watch(waiters.wait(2));
    const three = watch(waiters.wait(3));
    const five = watch(waiters.wait(5));

    waiters.answer(3);
    await settle();

    assert.deepEqual([two(), three(), five()], ['answered', 'answered', 'waiting']);
    assert.equal(waiters.size, 1);
  });

  it('when nothing more will be committed, then every waiter left hears why and none is kept', async () => {
    const waiters = new CommitWaiters();
    const one = watch(waiters.wait(1));
    const four = watch(waiters.wait(4));

    waiters.rejectAll(new Error('stopped'));
    await settle();

    assert.deepEqual([one(), four()], ['stopped', 'stopped']);
    assert.equal(waiters.size, 0);
  });
});
