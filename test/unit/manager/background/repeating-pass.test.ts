import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startRepeatingPass } from '../../../../src/manager/background/repeating-pass.js';
import { waitFor } from '../../../support/harness.js';

const silent = pino({ level: 'silent' });

describe('a repeating pass (manager/background/repeating-pass)', () => {
  it('when a pass asks for a shorter wait, then the next one comes after it instead of the interval, and each ended pass is asked', async () => {
    const startedAt: number[] = [];
    const asked: boolean[] = [];
    const loop = startRepeatingPass({
      name: 'test pass',
      pass: async () => {
        startedAt.push(Date.now());
        return startedAt.length < 4;
      },
      onFailure: () => false,
      log: silent,
      intervalMs: 300,
      nextDelayMs: (behind) => {
        asked.push(behind);
        return behind ? 10 : 60_000;
      },
    });
    try {
      await waitFor('four passes, each asked for its wait', () => asked.length >= 4, 5000, 5);
      const gaps = startedAt.slice(1).map((at, i) => at - (startedAt[i] as number));
      assert.ok(
        gaps.every((gap) => gap < 200),
        `passes 2-4 followed within the short wait, not the 300 ms interval: ${gaps.join(', ')} ms`,
      );
      assert.deepEqual(asked, [true, true, true, false]);
    } finally {
      await loop.stop();
    }
  });
});
