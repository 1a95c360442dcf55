import assert from 'node:assert/strict';
import { MINUTES_WINDOW, RateBuckets, SECONDS_WINDOW } from '../../../src/jobs/rate-buckets.js';

describe('rate buckets (per second for 5 minutes, per minute for an hour)', () => {
  const t0 = Date.UTC(2026, 0, 1, 0, 0, 0);

  it('when counts land in one second and in the next minute, then each window groups them by its width', () => {
    const rates = new RateBuckets(['accepted', 'failed'] as const);
    rates.add('accepted', t0 + 10_100);
    rates.add('accepted', t0 + 10_900, 2);
    rates.add('failed', t0 + 10_500);
    rates.add('accepted', t0 + 70_000);
    const now = t0 + 71_000;
    assert.deepEqual(rates.seconds(now), [
      { t: t0 / 1000 + 10, accepted: 3, failed: 1 },
      { t: t0 / 1000 + 70, accepted: 1, failed: 0 },
    ]);
    assert.deepEqual(rates.minutes(now), [
      { t: t0 / 1000, accepted: 3, failed: 1 },
      { t: t0 / 1000 + 60, accepted: 1, failed: 0 },
    ]);
  });

  it('when buckets grow older than their window, then they are dropped, the minutes later than the seconds', () => {
    const rates = new RateBuckets(['accepted'] as const);
    rates.add('accepted', t0);
    assert.equal(rates.seconds(t0 + (SECONDS_WINDOW - 1) * 1000).length, 1);
    assert.equal(rates.seconds(t0 + SECONDS_WINDOW * 1000).length, 0);
    assert.equal(rates.minutes(t0 + SECONDS_WINDOW * 1000).length, 1);
    assert.equal(rates.minutes(t0 + (MINUTES_WINDOW - 1) * 60_000 + 59_999).length, 1);
    assert.equal(rates.minutes(t0 + MINUTES_WINDOW * 60_000).length, 0);
  });

  it('when a list is changed by its reader, then the counts kept are not', () => {
    const rates = new RateBuckets(['accepted'] as const);
    rates.add('accepted', t0);
    const [bucket] = rates.minutes(t0);
    assert.ok(bucket);
    bucket.accepted = 99;
    assert.equal(rates.minutes(t0)[0]?.accepted, 1);
  });
});
