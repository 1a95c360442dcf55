/** How many segments a walk down the job log reads at a time (manager/jobs/read/log-walk.ts). */
import assert from 'node:assert/strict';
import { SEGMENTS_AHEAD, walkLog } from '../../../../../src/manager/jobs/read/log-walk.js';
import { memoryLog } from './memory-log.js';

const any = () => true;

describe('a walk down the job log: segments read at a time (log-walk.ts)', () => {
  it('when segments are a batch each and a page wants 50, then one segment is read, not eight', async () => {
    const m = memoryLog(20, () => 'hash', 125);
    const walk = await walkLog(m.log, {});
    const found = await walk.next(any, 50);
    assert.equal(walk.reads, 1);
    assert.equal(m.reads.segments, 1);
    assert.equal(found.length, 125);
    assert.equal(found[0]?.n, 20, 'the newest segment first');
  });

  it('when segments hold one job each (lone POSTs), then after the first the walk reads as many as it may at once', async () => {
    const m = memoryLog(40, () => 'hash', 1);
    const walk = await walkLog(m.log, {});
    assert.equal((await walk.next(any, 50)).length, 1);
    assert.equal((await walk.next(any, 49)).length, SEGMENTS_AHEAD);
    assert.equal(walk.reads, 1 + SEGMENTS_AHEAD);
  });

  it('when segments hold ten jobs and a page wants 25 more, then the walk reads the three that will hold them', async () => {
    const m = memoryLog(40, () => 'hash', 10);
    const walk = await walkLog(m.log, {});
    await walk.next(any, 50);
    const found = await walk.next(any, 25);
    assert.equal(found.length, 30);
    assert.equal(walk.reads, 4);
  });

  it('when the walk is not told what it wants (GET /groups), then it reads eight segments at a time, as before', async () => {
    const m = memoryLog(40, () => 'hash', 125);
    const walk = await walkLog(m.log, {});
    await walk.next(any);
    assert.equal(walk.reads, SEGMENTS_AHEAD);
  });

  it('when the filter has kept nothing yet, then the walk reads eight segments at a time to find some', async () => {
    const m = memoryLog(40, (n) => (n === 3 ? 'rare' : 'hash'), 5);
    const walk = await walkLog(m.log, {});
    const rare = (entry: { type: string }) => entry.type === 'rare';
    await walk.next(rare, 50);
    await walk.next(rare, 50);
    assert.equal(walk.reads, 1 + SEGMENTS_AHEAD);
  });
});
