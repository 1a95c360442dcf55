import assert from 'node:assert/strict';
import { AppError, ErrorCode } from '../../../../../src/errors.js';
import { silentLogger } from '../../../../../src/log.js';
import { createJobService, type JobServiceDeps } from '../../../../../src/manager/jobs/accept/accept.js';
import { ACCEPTS_IN_FLIGHT, createSlots } from '../../../../../src/manager/jobs/accept/accept-slots.js';
import type { RequestedJob } from '../../../../../src/manager/jobs/accept/options.js';
import { QueueError, QueueErrorCode } from '../../../../../src/queue/errors.js';
import type { InsertOutcome, JobDocument } from '../../../../../src/store/index.js';

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

  it("when two requests' accepts run at once, then no more than ACCEPTS_IN_FLIGHT jobs are in flight in the manager, and each request gets its own fates in order", async () => {
    // Stand-ins for the store and beanstalkd (this is the code above the adapters): records
    // wait in insertJobs until released; a job is in flight from its record's insert until
    // its put is answered. Payloads containing "refuse" are refused by beanstalkd.
    let inFlight = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    const undone: string[] = [];
    let nextBeanstalkId = 1;
    const store = {
      insertJobs(docs: readonly JobDocument[]) {
        inFlight += docs.length;
        most = Math.max(most, inFlight);
        return new Promise<InsertOutcome[]>((resolve) => {
          releases.push(() => resolve(docs.map(() => 'inserted')));
        });
      },
      insertQueueRefs: async (docs: readonly unknown[]) => docs.map(() => undefined),
      queueRefsInFlight: () => 0,
      async deleteJob(id: string) {
        undone.push(id);
      },
    };
    const queue = {
      async put(_tube: string, body: string) {
        inFlight -= 1;
        if (body.includes('refuse')) throw new QueueError(QueueErrorCode.DRAINING, 'draining');
        return { server: 'stand-in:11300', beanstalkId: String(nextBeanstalkId++) };
      },
    };
    const jobs = createJobService({
      store,
      queue,
      log: silentLogger(),
      tubePrefix: '',
      maxJobSize: () => 65_535,
    } as unknown as JobServiceDeps);
    const request: RequestedJob = {
      type: 'hash',
      options: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
      params: {},
    };
    const entriesOf = (name: string, refuse: (i: number) => boolean) =>
      Array.from({ length: ACCEPTS_IN_FLIGHT }, (_, i) => {
        const text = JSON.stringify({ name, i, ...(refuse(i) ? { refuse: true } : {}) });
        return { request, payload: { text, bytes: text.length } };
      });
    const first = jobs.acceptEach(entriesOf('first', (i) => i % 100 === 7));
    const second = jobs.acceptEach(entriesOf('second', () => false));
    await turn();
    assert.equal(inFlight, ACCEPTS_IN_FLIGHT, 'the first request took every slot');
    assert.equal(releases.length, 2, "two chunks' records are being inserted; the rest wait for slots");
    while (releases.length > 0) {
      for (const release of releases.splice(0)) release();
      for (let k = 0; k < 5; k += 1) await turn();
    }
    const [a, b] = await Promise.all([first, second]);
    assert.equal(most, ACCEPTS_IN_FLIGHT);
    assert.equal(inFlight, 0);
    const refused = a.flatMap((fate, i) => (fate.status === 'rejected' ? [i] : []));
    assert.deepEqual(refused, [7, 107, 207]);
    for (const i of refused) {
      const fate = a[i];
      assert.ok(fate?.status === 'rejected' && fate.reason instanceof AppError);
      assert.equal(fate.reason.code, ErrorCode.QUEUE_UNAVAILABLE);
    }
    assert.equal(undone.length, 3, "each refused job's record is removed");
    const ids = [...a, ...b].flatMap((fate) => (fate.status === 'fulfilled' ? [fate.value.id] : []));
    assert.equal(ids.length, 2 * ACCEPTS_IN_FLIGHT - 3);
    assert.equal(new Set([...ids, ...undone]).size, 2 * ACCEPTS_IN_FLIGHT, 'every job has an id of its own');
    assert.ok(b.every((fate) => fate.status === 'fulfilled' && fate.value.state === 'queued'));
  });
});
