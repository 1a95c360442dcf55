import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffSeconds } from '../../../src/worker/run-job.js';

describe('retry backoff (worker/run-job backoffSeconds)', () => {
  it('when attempts follow one another, then the wait doubles from the base until the cap', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffSeconds(attempt, 1000, 60_000));

    assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
  });

  it('when the attempt is 1 or less, then the wait is the base', () => {
    for (const attempt of [1, 0, -1, -100])
      assert.equal(backoffSeconds(attempt, 3000, 60_000), 3, String(attempt));
  });

  it('when the wait is not a whole number of seconds, then it is rounded up', () => {
    assert.equal(backoffSeconds(1, 1500, 60_000), 2);
    assert.equal(backoffSeconds(2, 1500, 60_000), 3);
    assert.equal(backoffSeconds(1, 1, 60_000), 1, 'a millisecond still waits a second');
    assert.equal(backoffSeconds(9, 1000, 2500), 3, 'a cap between seconds rounds up too');
    assert.equal(backoffSeconds(5, 0, 60_000), 0, 'a zero base never waits');
  });

  it('when the attempt count is huge, then the growth stops at 2^30 times the base instead of overflowing', () => {
    const limit = Math.ceil(2 ** 30 / 1000);

    assert.equal(backoffSeconds(31, 1, Number.POSITIVE_INFINITY), limit);
    assert.equal(backoffSeconds(10_000, 1, Number.POSITIVE_INFINITY), limit);
  });

  it('when any base, cap and attempts are taken, then the wait is a whole number of seconds, never shrinks with attempts, and reaches the cap and stays there', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: -5, max: 200 }),
        fc.integer({ min: -5, max: 200 }),
        (baseMs, extraMs, a, b) => {
          const capMs = baseMs + extraMs;
          const [earlier, later] = a <= b ? [a, b] : [b, a];
          const first = backoffSeconds(earlier, baseMs, capMs);
          const second = backoffSeconds(later, baseMs, capMs);

          assert.ok(Number.isInteger(first) && Number.isInteger(second));
          assert.ok(first <= second, `attempt ${earlier} waits ${first}s, attempt ${later} ${second}s`);
          assert.ok(second <= Math.ceil(capMs / 1000));
          assert.ok(first >= Math.ceil(baseMs / 1000));
          // 2^22 ms is past any cap here (3 661 s): from attempt 23 on, the wait is the cap.
          assert.equal(backoffSeconds(23 + later - earlier, baseMs, capMs), Math.ceil(capMs / 1000));
        },
      ),
    );
  });
});
