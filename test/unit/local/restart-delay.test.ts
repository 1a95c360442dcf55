import assert from 'node:assert/strict';
import {
  FIRST_RESTART_MS,
  MAX_RESTART_MS,
  nextRestartDelayMs,
  STABLE_RUN_MS,
} from '../../../src/local/restart-delay.js';

describe('restart delay of the local stack', () => {
  it('when a process keeps exiting soon after it starts, then each wait doubles up to the cap', () => {
    const history = { shortRunsInARow: 0 };
    const waits = Array.from({ length: 8 }, () => nextRestartDelayMs(history, 200));
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('when a process ran a while before it exited, then it is restarted after the first wait again', () => {
    const history = { shortRunsInARow: 0 };
    for (let i = 0; i < 5; i += 1) nextRestartDelayMs(history, 10);
    assert.equal(nextRestartDelayMs(history, STABLE_RUN_MS), FIRST_RESTART_MS);
    assert.equal(
      nextRestartDelayMs(history, 10),
      FIRST_RESTART_MS,
      'its next short run starts the count again',
    );
    assert.equal(nextRestartDelayMs(history, 10), 2 * FIRST_RESTART_MS);
  });

  it('when a process exits a thousand times in a row, then the wait stays at the cap', () => {
    const history = { shortRunsInARow: 0 };
    let last = 0;
    for (let i = 0; i < 1000; i += 1) last = nextRestartDelayMs(history, 0);
    assert.equal(last, MAX_RESTART_MS);
  });
});
