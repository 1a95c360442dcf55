/**
 * When a schedule ticks (cron in a time zone, a period aligned to the epoch) and what the
 * scheduler does with a due tick (on time, missed with catch_up once or skip, too old to run):
 * pure arithmetic, no server.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decideTick,
  nextTickOf,
  ON_TIME_GRACE_MS,
  tickLimits,
} from '../../../../src/manager/schedules/catch-up.js';
import {
  canonicalTimezone,
  cronTicks,
  periodTicks,
  upcoming,
} from '../../../../src/manager/schedules/ticks.js';

const at = (iso: string) => new Date(iso);
const iso = (dates: Array<Date | null>) => dates.map((d) => d?.toISOString() ?? null);

describe('schedule ticks', () => {
  it('when a cron pattern is read in a time zone, then its next runs are that zone’s wall-clock times, across a DST change', () => {
    // 03:00 in Berlin is 02:00 UTC in winter (CET) and 01:00 UTC in summer (CEST).
    const ticks = cronTicks('0 3 * * *', 'Europe/Berlin');
    const runs = upcoming(ticks, ticks.after(at('2026-03-27T12:00:00Z')), 4);
    assert.deepEqual(iso(runs), [
      '2026-03-28T02:00:00.000Z', // CET (UTC+1)
      '2026-03-29T01:00:00.000Z', // CEST from 29 March (UTC+2)
      '2026-03-30T01:00:00.000Z',
      '2026-03-31T01:00:00.000Z',
    ]);
    const ny = cronTicks('30 9 * * MON-FRI', 'America/New_York');
    assert.deepEqual(
      iso([ny.after(at('2026-01-02T15:00:00Z'))]),
      ['2026-01-05T14:30:00.000Z'],
      'Friday after 9:30 → Monday',
    );
  });

  it('when a cron pattern has six fields, then the first is seconds', () => {
    const ticks = cronTicks('*/20 * * * * *', 'UTC');
    assert.deepEqual(iso(upcoming(ticks, ticks.after(at('2026-01-01T00:00:05Z')), 3)), [
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
  });

  it('when ticks are asked for around a tick, then after is strict and atOrAfter / atOrBefore include it', () => {
    for (const ticks of [cronTicks('0 * * * *', 'UTC'), periodTicks(3600)]) {
      const tick = at('2026-01-01T05:00:00Z');
      assert.equal(ticks.after(tick)?.toISOString(), '2026-01-01T06:00:00.000Z');
      assert.equal(ticks.atOrAfter(tick)?.toISOString(), tick.toISOString());
      assert.equal(ticks.atOrBefore(tick)?.toISOString(), tick.toISOString());
      assert.equal(ticks.atOrBefore(at('2026-01-01T05:59:59.999Z'))?.toISOString(), tick.toISOString());
      assert.equal(ticks.atOrAfter(at('2026-01-01T04:00:00.001Z'))?.toISOString(), tick.toISOString());
    }
  });

  it('when a period is given, then its ticks are whole multiples of it since the epoch, whatever time it is asked at', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 31_536_000 }),
        fc.integer({ min: 0, max: 4e12 }),
        (seconds, ms) => {
          const ticks = periodTicks(seconds);
          const next = ticks.after(new Date(ms))!.getTime();
          assert.equal(next % (seconds * 1000), 0);
          assert.ok(next > ms && next - ms <= seconds * 1000);
          assert.equal(ticks.atOrBefore(new Date(ms))!.getTime(), next - seconds * 1000);
        },
      ),
    );
  });

  it('when a pattern is bad or never comes, then cronTicks says what is wrong', () => {
    for (const [pattern, message] of [
      ['61 * * * *', /minute/],
      ['* * * *', /5 fields/],
      ['0 0 0 * * * 2030', /5 fields/],
      ['2030-01-01T00:00:00', /5 fields/],
      ['@reboot', /reboot/],
      ['0 0 30 2 *', /never/],
      ['hello world', /5 fields/],
    ] as const) {
      assert.throws(() => cronTicks(pattern, 'UTC'), message, pattern);
    }
  });

  it('when a time zone is named, then only IANA names are taken, in their canonical spelling', () => {
    assert.equal(canonicalTimezone('europe/berlin'), 'Europe/Berlin');
    assert.equal(canonicalTimezone('UTC'), 'UTC');
    for (const bad of ['Mars/Olympus', '+01:00', '', 'Europe/Berlin; rm -rf', 'x'.repeat(65)])
      assert.equal(canonicalTimezone(bad), null, bad);
  });
});

describe('a due tick decided', () => {
  const limits = tickLimits(86_400_000, 0);
  const every = periodTicks(10);
  const now = at('2026-01-01T12:00:00.300Z');

  it('when the key lifetime is a day, then ticks up to a minute late are on time and up to about a day old may still run', () => {
    assert.equal(limits.graceMs, ON_TIME_GRACE_MS);
    assert.equal(limits.horizonMs, 86_400_000 - 300_000);
    const short = tickLimits(60_000, 30_000);
    assert.equal(short.horizonMs, 27_000, 'retention shorter than the keys bounds it');
    assert.equal(short.graceMs, 27_000, 'and the grace within it');
  });

  it('when the next tick is still to come, then the scheduler waits', () => {
    assert.deepEqual(decideTick(every, at('2026-01-01T12:00:10Z'), now, 'once', limits), { kind: 'wait' });
    assert.deepEqual(decideTick(every, null, now, 'once', limits), { kind: 'wait' });
  });

  it('when ticks are due and at most a minute late, then each runs, in order, whatever the policy', () => {
    for (const policy of ['once', 'skip'] as const) {
      const next = at('2026-01-01T11:59:10Z');
      assert.deepEqual(decideTick(every, next, now, policy, limits), {
        kind: 'run',
        tick: next,
        late: false,
      });
    }
  });

  it('when ticks were missed and none is on time, then once runs the latest missed tick (after skipping to it) and skip skips them all', () => {
    const hourly = periodTicks(3600);
    const t = at('2026-01-01T12:30:00Z');
    const next = at('2026-01-01T08:00:00Z');
    assert.deepEqual(decideTick(hourly, next, t, 'once', limits), {
      kind: 'skip',
      from: next,
      to: at('2026-01-01T12:00:00Z'),
    });
    assert.deepEqual(decideTick(hourly, at('2026-01-01T12:00:00Z'), t, 'once', limits), {
      kind: 'run',
      tick: at('2026-01-01T12:00:00Z'),
      late: true,
    });
    assert.deepEqual(decideTick(hourly, next, t, 'skip', limits), {
      kind: 'skip',
      from: next,
      to: at('2026-01-01T13:00:00Z'),
    });
  });

  it('when ticks were missed and newer ones are on time, then the missed ones are skipped and the on-time ones run', () => {
    const next = at('2026-01-01T11:50:00Z');
    for (const policy of ['once', 'skip'] as const) {
      assert.deepEqual(decideTick(every, next, now, policy, limits), {
        kind: 'skip',
        from: next,
        to: at('2026-01-01T11:59:10Z'),
      });
    }
  });

  it('when the latest missed tick is older than its key may live, then it is never run, even with once', () => {
    const daily = periodTicks(86_400);
    const t = at('2026-01-03T23:58:00Z');
    assert.deepEqual(decideTick(daily, at('2026-01-03T00:00:00Z'), t, 'once', limits), {
      kind: 'skip',
      from: at('2026-01-03T00:00:00Z'),
      to: at('2026-01-04T00:00:00Z'),
    });
  });

  it('when any tick is decided at any time, then a tick run is never older than the horizon and a skip moves forward', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 0, max: 3 * 86_400_000 }),
        fc.constantFrom('once' as const, 'skip' as const),
        (periodS, lateMs, policy) => {
          const ticks = periodTicks(periodS);
          const next = ticks.atOrBefore(new Date(now.getTime() - lateMs))!;
          const decision = decideTick(ticks, next, now, policy, limits);
          if (decision.kind === 'run') {
            assert.ok(now.getTime() - decision.tick.getTime() < limits.horizonMs);
            if (!decision.late) assert.ok(now.getTime() - decision.tick.getTime() <= limits.graceMs);
          }
          if (decision.kind === 'skip') assert.ok(decision.to === null || decision.to > decision.from);
        },
      ),
    );
  });
});

describe('a schedule’s next tick', () => {
  const ticks = periodTicks(60);
  const schedule = { gen: 'g1', createdAt: at('2026-01-01T12:00:30Z') };

  it('when no tick was done yet, then it is the first tick after the schedule was made', () => {
    assert.equal(nextTickOf(schedule, null, ticks)?.toISOString(), '2026-01-01T12:01:00.000Z');
  });

  it('when progress exists, then it says, unless it is an earlier schedule’s of that name', () => {
    const progress = { gen: 'g1', nextTick: at('2026-01-01T13:00:00Z') };
    assert.equal(nextTickOf(schedule, progress, ticks)?.toISOString(), '2026-01-01T13:00:00.000Z');
    assert.equal(
      nextTickOf(schedule, { ...progress, gen: 'g0' }, ticks)?.toISOString(),
      '2026-01-01T12:01:00.000Z',
    );
  });

  it('when it was resumed, then no tick at or before the resume is next: those passed while paused', () => {
    const progress = { gen: 'g1', nextTick: at('2026-01-01T12:05:00Z') };
    const resumed = { ...schedule, resumedAt: at('2026-01-01T12:30:00Z') };
    assert.equal(nextTickOf(resumed, progress, ticks)?.toISOString(), '2026-01-01T12:31:00.000Z');
    const early = { ...schedule, resumedAt: at('2026-01-01T12:00:40Z') };
    assert.equal(
      nextTickOf(early, progress, ticks)?.toISOString(),
      '2026-01-01T12:05:00.000Z',
      'progress is later',
    );
  });
});
