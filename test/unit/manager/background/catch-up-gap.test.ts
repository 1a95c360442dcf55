import assert from 'node:assert/strict';
import {
  CATCH_UP_GAP_SHARE,
  CATCH_UP_MIN_GAP_MS,
  catchUpGapMs,
} from '../../../../src/manager/background/background-passes.js';

describe('the wait between maintenance passes while behind (manager/background/background-passes)', () => {
  it('when a catch-up pass took its time, then the next one waits a quarter of it, so passes fill at most four fifths of the time', () => {
    assert.equal(CATCH_UP_GAP_SHARE, 0.25);
    assert.equal(catchUpGapMs(2000), 500);
    assert.equal(catchUpGapMs(10_000), 2500);
    const passMs = 1900;
    const busy = passMs / (passMs + catchUpGapMs(passMs));
    assert.ok(busy >= 0.79 && busy <= 0.81, `passes busy ${busy} of the time`);
  });

  it('when a catch-up pass was quick (a fast store, a short walk), then the next one still waits the least gap, not a fixed second', () => {
    assert.equal(catchUpGapMs(0), CATCH_UP_MIN_GAP_MS);
    assert.equal(catchUpGapMs(120), CATCH_UP_MIN_GAP_MS);
    assert.ok(catchUpGapMs(300) < 1000, 'a 300 ms pass is followed well within a second');
  });
});
