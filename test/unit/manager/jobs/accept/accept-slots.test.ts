import assert from 'node:assert/strict';
import { createJobService, type JobServiceDeps } from '../../../../../src/manager/jobs/accept/accept.js';
import { ACCEPTS_IN_FLIGHT, createSlots } from '../../../../../src/manager/jobs/accept/accept-slots.js';

/** A call that stays in flight until `release` is called, counting how many are in flight. */
function gate() {
  let inFlight = 0;
  let most = 0;
  const releases: Array<() => void> = [];
  const started: number[] = [];
  const call = (id: number, fail = false) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    started.push(id);
    return new Promise<number>((resolve, reject) => {
      releases.push(() => {
        inFlight -= 1;
        if (fail) reject(new Error(`call ${id} failed`));
        else resolve(id);
      });
    });
  };
  return { call, releases, started, most: () => most, inFlight: () => inFlight };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('accept slots (manager/jobs/accept/accept-slots.ts)', () => {
  it('when more calls come than slots, then at most the limit run and the others start in order as slots free', async () => {
    const inSlot = createSlots(2);
    const g = gate();
    const results = [1, 2, 3, 4, 5].map((id) => inSlot(() => g.call(id)));
    await turn();
    assert.deepEqual(g.started, [1, 2]);
    g.releases.shift()?.();
    await turn();
    assert.deepEqual(g.started, [1, 2, 3]);
    while (g.releases.length > 0) {
      g.releases.shift()?.();
      await turn();
    }
    assert.deepEqual(await Promise.all(results), [1, 2, 3, 4, 5]);
    assert.deepEqual(g.started, [1, 2, 3, 4, 5]);
    assert.equal(g.most(), 2);
  });

  it('when a call fails, then its slot is freed for the next one and the failure reaches its caller', async () => {
    const inSlot = createSlots(1);
    const g = gate();
    const failing = inSlot(() => g.call(1, true));
    const next = inSlot(() => g.call(2));
    await turn();
    assert.deepEqual(g.started, [1]);
    g.releases.shift()?.();
    await assert.rejects(failing, /call 1 failed/);
    await turn();
    assert.deepEqual(g.started, [1, 2]);
    g.releases.shift()?.();
    assert.equal(await next, 2);
  });

  it('when a call holds several slots, then it waits until that many are free, and nobody behind it jumps the line', async () => {
    const inSlot = createSlots(4);
    const g = gate();
    const small = [1, 2, 3].map((id) => inSlot(() => g.call(id)));
    const chunk = inSlot(() => g.call(10), 3);
    const after = inSlot(() => g.call(4));
    await turn();
    assert.deepEqual(
      g.started,
      [1, 2, 3],
      'one slot is free, the chunk needs three, and call 4 waits behind it',
    );
    g.releases.shift()?.();
    await turn();
    assert.deepEqual(g.started, [1, 2, 3], 'two free: still not enough');
    g.releases.shift()?.();
    await turn();
    assert.deepEqual(g.started, [1, 2, 3, 10], 'three free: the chunk; call 3 and the chunk hold all four');
    g.releases.shift()?.();
    await turn();
    assert.deepEqual(g.started, [1, 2, 3, 10, 4], 'call 3 done: the single call behind the chunk');
    assert.equal(g.inFlight(), 2, 'the chunk (three slots) and call 4');
    while (g.releases.length > 0) {
      g.releases.shift()?.();
      await turn();
    }
    assert.deepEqual(await Promise.all([...small, chunk, after]), [1, 2, 3, 10, 4]);
    // A weight above the limit holds every slot rather than waiting forever.
    assert.equal(await inSlot(() => Promise.resolve('whole'), 9), 'whole');
  });

  it("when two requests' accepts run at once, then no more than ACCEPTS_IN_FLIGHT are in flight in the manager, and each request gets its own fates in order", async () => {
    // settleEach reads none of the service's backends: nothing here talks to beanstalkd or MongoDB.
    const jobs = createJobService({} as unknown as JobServiceDeps);
    const g = gate();
    const size = ACCEPTS_IN_FLIGHT;
    const first = jobs.settleEach(
      Array.from({ length: size }, (_, i) => i),
      (i) => g.call(i, i % 100 === 7),
    );
    const second = jobs.settleEach(
      Array.from({ length: size }, (_, i) => size + i),
      (i) => g.call(i),
    );
    await turn();
    assert.equal(g.inFlight(), ACCEPTS_IN_FLIGHT, 'the first request took every slot');
    while (g.releases.length > 0) {
      for (const release of g.releases.splice(0)) release();
      await turn();
      await turn();
    }
    const [a, b] = await Promise.all([first, second]);
    assert.equal(g.most(), ACCEPTS_IN_FLIGHT);
    assert.equal(a.length, size);
    assert.equal(b.length, size);
    a.forEach((fate, i) => {
      if (i % 100 === 7) assert.equal(fate.status, 'rejected', `item ${i}`);
      else assert.deepEqual(fate, { status: 'fulfilled', value: i });
    });
    assert.deepEqual(
      b,
      b.map((_, i) => ({ status: 'fulfilled', value: size + i })),
    );
  });
});
