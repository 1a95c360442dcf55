/** The waits a manager holds on jobs' ends (manager/jobs/job-waiters). */
import assert from 'node:assert/strict';
import { JobWaiters } from '../../../../src/manager/jobs/job-waiters.js';

describe('job waiters', () => {
  it('when a job is woken, then every wait on it ends as ended and the others stay open', async () => {
    let ended = 0;
    const waiters = new JobWaiters(() => {
      ended += 1;
    });
    const first = waiters.add('a', 60_000, 'prompt');
    const second = waiters.add('a', 60_000, 'relaxed');
    const other = waiters.add('b', 60_000, 'prompt');
    assert.equal(waiters.count('prompt'), 2);
    assert.equal(waiters.count('relaxed'), 1);

    waiters.wake('a');

    assert.deepEqual(await Promise.all([first.until, second.until]), ['ended', 'ended']);
    assert.equal(ended, 2);
    assert.equal(waiters.count('prompt'), 1);
    assert.equal(waiters.count('relaxed'), 0);
    other.end('aborted');
    assert.equal(await other.until, 'aborted');
  });

  it('when a wait ends twice, then it counts down and tells once', async () => {
    let ended = 0;
    const waiters = new JobWaiters(() => {
      ended += 1;
    });
    const wait = waiters.add('a', 60_000, 'prompt');

    wait.end('aborted');
    wait.end('timeout');
    waiters.wake('a');

    assert.equal(await wait.until, 'aborted');
    assert.equal(ended, 1);
    assert.equal(waiters.count('prompt'), 0);
  });

  it('when its deadline passes or its signal aborts, then a wait ends so', async () => {
    const waiters = new JobWaiters(() => undefined);
    const controller = new AbortController();
    const short = waiters.add('a', 5, 'prompt');
    const aborted = waiters.add('b', 60_000, 'prompt', controller.signal);

    controller.abort();

    assert.equal(await aborted.until, 'aborted');
    assert.equal(await short.until, 'timeout');
    assert.equal(waiters.count('prompt'), 0);
  });

  it('when all end at once, then every open wait ends as told and a later wake finds none', async () => {
    const waiters = new JobWaiters(() => undefined);
    const waits = [waiters.add('a', 60_000, 'prompt'), waiters.add('b', 60_000, 'relaxed')];

    waiters.endAll('timeout');
    waiters.wake('a');

    assert.deepEqual(await Promise.all(waits.map((wait) => wait.until)), ['timeout', 'timeout']);
    assert.equal(waiters.count('prompt') + waiters.count('relaxed'), 0);
  });
});
