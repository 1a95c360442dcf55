/** A type's limits: the PUT body's checks, the token arithmetic, and the token tubes' names. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TOKEN_TUBE_START, tokenTube, tokenTubeOf, wantedTokens } from '../../../src/jobs/limit-tokens.js';
import { typeOfTube } from '../../../src/jobs/queue-copy.js';
import {
  LIMIT_BOUNDS,
  limitsAnswer,
  maxStartsInWindow,
  parseLimits,
  rateIntervalSeconds,
} from '../../../src/jobs/type-limits.js';
import { maxInWindow, maxOverlap } from '../../../src/load/windows.js';

/**
 * beanstalkd's rate tokens, simulated: B tokens, each released with a delay of D seconds after
 * the start that used it; every start takes the token that became ready first. `demandAt` is
 * when each job wants to start (ascending); answers when each one starts.
 */
function simulateStarts(ratePerSecond: number, burst: number, demandAt: readonly number[]): number[] {
  const intervalMs = (burst / ratePerSecond) * 1000;
  const readyAt = Array.from({ length: burst }, () => 0);
  return demandAt.map((wants) => {
    readyAt.sort((a, b) => a - b);
    const start = Math.max(wants, readyAt[0] as number);
    readyAt[0] = start + intervalMs;
    return start;
  });
}

describe('type limits (pure)', () => {
  it('when a body is valid, then burst defaults to the rate and the interval is burst / rate', () => {
    assert.deepEqual(parseLimits({ rate_per_second: 5 }), { ratePerSecond: 5, burst: 5 });
    assert.deepEqual(parseLimits({ rate_per_second: 50, burst: 100, concurrency: 20 }), {
      ratePerSecond: 50,
      burst: 100,
      concurrency: 20,
    });
    assert.deepEqual(parseLimits({ concurrency: 3 }), { concurrency: 3 });
    assert.equal(rateIntervalSeconds({ ratePerSecond: 50, burst: 100 }), 2);
    assert.deepEqual(limitsAnswer({ ratePerSecond: 50, burst: 100, concurrency: 3 }), {
      rate_per_second: 50,
      burst: 100,
      interval_seconds: 2,
      concurrency: 3,
    });
  });

  it('when a body is invalid, then parseLimits says why, for every way it can be wrong', () => {
    const refused: unknown[] = [
      null,
      [],
      'x',
      {},
      { burst: 5 },
      { rate_per_second: 0 },
      { rate_per_second: 1.5 },
      { rate_per_second: '5' },
      { rate_per_second: LIMIT_BOUNDS.maxRate + 1 },
      { concurrency: 0 },
      { concurrency: -1 },
      { concurrency: LIMIT_BOUNDS.maxConcurrency + 1 },
      { rate_per_second: 5, burst: 4 },
      { rate_per_second: 5, burst: 7 },
      { rate_per_second: 5, burst: 0 },
      { rate_per_second: 5, extra: 1 },
      JSON.parse('{"__proto__": {"concurrency": 1}, "concurrency": 2}'),
    ];
    for (const body of refused) {
      const parsed = parseLimits(body);
      assert.ok('error' in parsed, `${JSON.stringify(body)} is refused`);
      assert.ok(parsed.error.length > 10);
    }
  });

  it('when any valid rate and burst are used, then no window of one second holds more than N + B starts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 8 }), (rate, k) => {
        const limits = { ratePerSecond: rate, burst: rate * k };
        const bound = maxStartsInWindow(limits);
        assert.ok(bound <= rate + rate * k, `${bound} <= ${rate} + ${rate * k}`);
        assert.ok(bound >= rate * k, 'a burst fits');
      }),
    );
  });

  it('when demand always exceeds the rate (simulated tokens), then starts per second stay within N + B and average N', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), (rate, k) => {
        const burst = rate * k;
        // Everyone wants to start at once: a backlog of 30 seconds' worth.
        const starts = simulateStarts(
          rate,
          burst,
          Array.from({ length: rate * 30 }, () => 0),
        );
        const most = maxInWindow(starts, 1000);
        assert.ok(most <= maxStartsInWindow({ ratePerSecond: rate, burst }), `${most} in a second`);
        const spanSeconds = ((starts.at(-1) as number) - (starts[0] as number)) / 1000;
        const sustained = (starts.length - burst) / spanSeconds;
        assert.ok(Math.abs(sustained - rate) <= rate * 0.1 + 0.5, `sustained ${sustained} vs ${rate}`);
      }),
    );
  });

  it('when the type was idle, then a whole burst starts at once', () => {
    const starts = simulateStarts(5, 10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(starts.filter((t) => t === 0).length, 10);
    assert.equal(starts[10], 2000, 'the 11th waits for the first token, 2 s (10 / 5) later');
  });

  it("when token tubes are named, then they read back and are never a job type's tube", () => {
    const tube = tokenTube('t1.', 'run', 'hash');
    assert.equal(tube, `t1.${TOKEN_TUBE_START}run.hash`);
    assert.deepEqual(tokenTubeOf(tube, 't1.'), { kind: 'run', type: 'hash' });
    assert.deepEqual(tokenTubeOf(tokenTube('', 'rate', 'a-b_c'), ''), { kind: 'rate', type: 'a-b_c' });
    assert.equal(tokenTubeOf('t1.hash', 't1.'), null);
    assert.equal(tokenTubeOf(tube, 't2.'), null);
    assert.equal(typeOfTube(tube, 't1.'), null);
    assert.equal(typeOfTube(tokenTube('', 'rate', 'hash'), ''), null);
    assert.equal(wantedTokens({ ratePerSecond: 5, burst: 10, concurrency: 3 }, 'run'), 3);
    assert.equal(wantedTokens({ ratePerSecond: 5, burst: 10, concurrency: 3 }, 'rate'), 10);
    assert.equal(wantedTokens({ concurrency: 3 }, 'rate'), 0);
    assert.equal(wantedTokens(null, 'run'), 0);
  });

  it('when windows and overlaps are measured, then touching intervals do not overlap and both ends of a window count', () => {
    assert.equal(maxInWindow([0, 500, 1000, 2500], 1000), 3);
    assert.equal(maxInWindow([0, 500, 1001, 2500], 1000), 2);
    assert.equal(maxInWindow([], 1000), 0);
    assert.equal(
      maxOverlap([
        { start: 0, end: 10 },
        { start: 10, end: 20 },
        { start: 5, end: 15 },
      ]),
      2,
    );
  });
});
