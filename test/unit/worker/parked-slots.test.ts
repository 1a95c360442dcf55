import assert from 'node:assert/strict';
import { SlotTubes } from '../../../src/worker/limits/slot-tubes.js';
import { ParkedSlots } from '../../../src/worker/parked-slots.js';

describe('idle slots parked in the worker (worker/parked-slots)', () => {
  const tubes = () => new SlotTubes({ types: ['t'], tubeOf: (type) => type, limits: { get: () => null } });
  const settledOf = (promise: Promise<void>) => {
    const state = { done: false };
    void promise.then(() => {
      state.done = true;
    });
    return state;
  };
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('when one is woken, then the slot parked longest resumes and the others stay parked', async () => {
    const parked = new ParkedSlots(() => tubes().waitForChange());
    const first = settledOf(parked.park('a'));
    const second = settledOf(parked.park('a'));
    assert.equal(parked.size, 2);
    parked.wakeOne('a');
    parked.wakeOne('a');
    await turn();
    assert.deepEqual(
      [first.done, second.done],
      [true, true],
      'two wakes before either resumed wake two slots',
    );
    assert.equal(parked.size, 0);
    const third = settledOf(parked.park('a'));
    const fourth = settledOf(parked.park('a'));
    parked.wakeOne('a');
    await turn();
    assert.deepEqual([third.done, fourth.done], [true, false]);
    parked.wakeAll();
    await turn();
    assert.equal(fourth.done, true);
  });

  it('when a slot of one server is woken, then slots parked for another server stay parked', async () => {
    const parked = new ParkedSlots(() => tubes().waitForChange());
    const onB = settledOf(parked.park('b'));
    const onA = settledOf(parked.park('a'));
    parked.wakeOne('a');
    await turn();
    assert.deepEqual(
      [onA.done, onB.done],
      [true, false],
      'the one parked longest is on b, but a took the job',
    );
    parked.wakeOne('c');
    await turn();
    assert.equal(onB.done, false);
    parked.wakeOne('b');
    await turn();
    assert.equal(onB.done, true);
  });

  it('when what the slots may watch changes, then the parked ones look again', async () => {
    const slotTubes = tubes();
    const parked = new ParkedSlots(() => slotTubes.waitForChange());
    const slot = settledOf(parked.park('a'));
    await turn();
    assert.equal(slot.done, false);
    slotTubes.notify();
    await turn();
    assert.equal(slot.done, true);
    assert.equal(parked.size, 0);
  });

  it('when nothing wakes parked slots, then they look again at the recheck time, the later ones with the first', async () => {
    const parked = new ParkedSlots(() => tubes().waitForChange(), 200);
    const started = Date.now();
    const first = parked.park('a');
    // Parked 20 ms later: a timer of its own would wake it 20 ms after the first.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = settledOf(parked.park('a'));
    await first;
    assert.ok(Date.now() - started >= 190, 'not before its time');
    await turn();
    assert.equal(second.done, true, 'one timer for every parked slot, not one each');
    assert.equal(parked.size, 0);
  });

  it('when nothing is parked, then waking does nothing', () => {
    const parked = new ParkedSlots(() => tubes().waitForChange());
    parked.wakeOne('a');
    parked.wakeAll();
    assert.equal(parked.size, 0);
  });
});
