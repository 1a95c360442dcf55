import assert from 'node:assert/strict';
import { ReserveWaiters } from '../../../src/worker/reserve-waiters.js';

describe('the slots waiting in a reserve (worker/reserve-waiters)', () => {
  // Slots 0 and 2 reserve from server a, slot 1 from server b.
  const serverOf = (slot: number) => (slot % 2 === 0 ? 'a' : 'b');

  it('when no other slot waits, then none is beside', () => {
    const waiters = new ReserveWaiters(serverOf);
    waiters.enter(0, ['t1']);
    assert.equal(waiters.beside(0, 'a'), false);
    assert.equal(waiters.beside(2, 'b'), false);
  });

  it('when another slot waits on the same server, then it is beside any slot there', () => {
    const waiters = new ReserveWaiters(serverOf);
    waiters.enter(2, ['t1', 't2']);
    assert.equal(waiters.beside(0, 'a'), true);
    assert.equal(waiters.beside(0, 'a', ['t2']), true);
    assert.equal(waiters.beside(0, 'a', ['t1', 't2']), true);
  });

  it('when the waiting slot does not watch every tube asked, or is on another server, then it is not beside', () => {
    const waiters = new ReserveWaiters(serverOf);
    waiters.enter(2, ['t1']);
    waiters.enter(1, ['t1', 't2']);
    assert.equal(waiters.beside(0, 'a', ['t1', 't2']), false);
    assert.equal(waiters.beside(0, 'b', ['t1', 't2']), true);
    assert.equal(waiters.beside(0, 'c'), false);
  });

  it('when asked for at least n others, then only slots on the server watching every tube count', () => {
    const waiters = new ReserveWaiters(serverOf);
    waiters.enter(0, ['t1']);
    waiters.enter(2, ['t1', 't2']);
    waiters.enter(1, ['t1', 't2']);
    waiters.enter(4, ['t2']);
    assert.equal(waiters.beside(6, 'a', ['t1'], 2), true);
    assert.equal(waiters.beside(6, 'a', ['t1'], 3), false, 'slot 4 does not watch t1; slot 1 is on b');
    assert.equal(waiters.beside(0, 'a', ['t1'], 2), false, 'a slot does not count itself');
    assert.equal(waiters.beside(6, 'a', [], 3), true);
  });

  it('when a slot leaves its reserve, then it is neither beside nor listed', () => {
    const waiters = new ReserveWaiters(serverOf);
    waiters.enter(2, ['t1']);
    waiters.enter(4, ['t1']);
    waiters.leave(2);
    assert.deepEqual([...waiters.slots()], [4]);
    waiters.leave(4);
    assert.equal(waiters.beside(0, 'a'), false);
    assert.deepEqual([...waiters.slots()], []);
  });
});
