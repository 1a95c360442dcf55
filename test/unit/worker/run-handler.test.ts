import assert from 'node:assert/strict';
import fc from 'fast-check';
import { touchIntervalMs } from '../../../src/worker/run-handler.js';

describe('touch interval (worker/run-handler touchIntervalMs)', () => {
  it('when a TTR is given, then the job is touched every half TTR', () => {
    assert.equal(touchIntervalMs(60), 30_000);
    assert.equal(touchIntervalMs(3), 1500);
    assert.equal(touchIntervalMs(86_400), 43_200_000);
  });

  it('when half the TTR is under half a second, then the interval is half a second', () => {
    assert.equal(touchIntervalMs(1), 500);
    assert.equal(touchIntervalMs(0.5), 500);
    assert.equal(touchIntervalMs(0), 500);
  });

  it('when half the TTR is not a whole number of milliseconds, then it is rounded down', () => {
    assert.equal(touchIntervalMs(1.0011), 500);
    assert.equal(touchIntervalMs(2.0031), 1001);
  });

  it('when any TTR a job may have (1 to 86400 s) is given, then the first touch comes at half of it, well before beanstalkd would take the job back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 86_400 }), (ttrSeconds) => {
        const interval = touchIntervalMs(ttrSeconds);

        assert.equal(interval, ttrSeconds * 500);
        assert.ok(interval < ttrSeconds * 1000);
      }),
    );
  });
});
