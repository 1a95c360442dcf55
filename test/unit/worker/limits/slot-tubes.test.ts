/** Which tubes a worker's slots watch when some of its types have limits (no server). */
import assert from 'node:assert/strict';
import type { KnownLimits } from '../../../../src/worker/limits/limits-cache.js';
import { SlotTubes } from '../../../../src/worker/limits/slot-tubes.js';

function setup(limits: Record<string, KnownLimits>) {
  let now = 1_000_000;
  const known = new Map(Object.entries(limits));
  const tubes = new SlotTubes({
    types: Object.keys(limits),
    tubeOf: (type) => `p.${type}`,
    limits: { get: (type) => (known.has(type) ? (known.get(type) as KnownLimits) : 'unknown') },
    probesPerType: 2,
    dryMs: { concurrency: 1000, rate: 250 },
    now: () => now,
  });
  return {
    tubes,
    known,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('slot tubes (which slots take a limited type)', () => {
  it('when no type has limits, then every slot watches every tube', () => {
    const { tubes } = setup({ hash: null, simulate: null });
    for (let slot = 0; slot < 8; slot += 1) assert.deepEqual(tubes.plan(slot), ['p.hash', 'p.simulate']);
  });

  it('when a type has limits, then only two idle slots probe it, and a slot that ran one of its jobs goes on', () => {
    const { tubes } = setup({ hash: null, capped: { concurrency: 3 } });
    const plans = Array.from({ length: 6 }, (_, slot) => tubes.plan(slot));
    assert.equal(plans.filter((p) => p.includes('p.capped')).length, 2);
    assert.ok(plans.every((p) => p.includes('p.hash')));
    // Slot 0 (a probe) takes a job: its place stays taken while it waits for tokens...
    tubes.busy(0);
    assert.ok(!tubes.plan(2).includes('p.capped'), 'slot 0 still counts while its job waits');
    // ...and is free once the job started (or went back).
    tubes.settled(0);
    assert.ok(tubes.plan(2).includes('p.capped'));
    tubes.finished(0, 'capped');
    assert.ok(tubes.plan(0).includes('p.capped'), 'it ran one: it goes on watching');
    assert.ok(!tubes.plan(3).includes('p.capped'), 'two probes already');
  });

  it("when a plan includes a limited type's tube, then it watches a limited type (such slots do not park); unread limits do not count", () => {
    const { tubes, known } = setup({ hash: null, capped: { concurrency: 3 }, later: null });
    known.delete('later');
    assert.equal(tubes.watchesLimited(['p.hash']), false);
    assert.equal(tubes.watchesLimited(['p.hash', 'p.capped']), true);
    assert.equal(
      tubes.watchesLimited(['p.later']),
      false,
      'limits not read yet: watched by every slot, as unlimited',
    );
    assert.equal(tubes.watchesLimited([]), false);
  });

  it('when the dry time after a missed token ends, then the slots waiting for a change are woken to look again', async () => {
    const tubes = new SlotTubes({
      types: ['rated'],
      tubeOf: (type) => `p.${type}`,
      limits: { get: () => ({ ratePerSecond: 1, burst: 1 }) },
      dryMs: { concurrency: 1000, rate: 30 },
    });
    const started = Date.now();
    const wait = tubes.waitForChange();
    tubes.missed('rated', 'rate');
    tubes.missed('rated', 'rate');
    await wait.done;
    assert.ok(Date.now() - started >= 25, 'at the end of the dry time, not before');
    assert.deepEqual(tubes.plan(0), ['p.rated'], 'and then a slot may probe the type');
    tubes.missed('rated', 'rate');
    tubes.close();
  });

  it('when a slot waited for tokens in vain, then no slot starts probing the type for a while (a second for run tokens, a quarter for rate)', () => {
    const { tubes, advance } = setup({ rated: { ratePerSecond: 1, burst: 1 }, capped: { concurrency: 1 } });
    assert.deepEqual(tubes.plan(0), ['p.rated', 'p.capped']);
    tubes.busy(0);
    tubes.settled(0);
    tubes.missed('rated', 'rate');
    tubes.missed('capped', 'concurrency');
    assert.deepEqual(tubes.plan(0), []);
    assert.deepEqual(tubes.plan(1), []);
    advance(251);
    assert.deepEqual(tubes.plan(1), ['p.rated']);
    advance(750);
    assert.deepEqual(tubes.plan(1), ['p.rated', 'p.capped']);
  });

  it('when limits were never read, then the type is watched (its jobs are released for later by the gate)', () => {
    const { tubes } = setup({ hash: 'unknown' });
    assert.deepEqual(tubes.plan(0), ['p.hash']);
  });

  it('when a slot waits for something to watch, then a freed probe wakes it', async () => {
    const { tubes } = setup({ capped: { concurrency: 1 } });
    tubes.plan(0);
    tubes.plan(1);
    assert.deepEqual(tubes.plan(2), []);
    const wait = tubes.waitForChange(10_000);
    tubes.busy(0);
    tubes.settled(0);
    await wait.done;
    assert.deepEqual(tubes.plan(2), ['p.capped']);
  });
});
