import assert from 'node:assert/strict';
import { coalesceReads } from '../../../../src/manager/stats/coalesce.js';

/** A read whose calls are counted and each settled by hand. */
function handRead() {
  const calls: Array<{ resolve: (value: number) => void; reject: (error: Error) => void }> = [];
  const read = () =>
    new Promise<number>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { read, calls };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesceReads: one read for the requests that ask at once', () => {
  it('when nothing is being read, then a request starts a read of its own', async () => {
    const { read, calls } = handRead();
    const ask = coalesceReads(read);
    const first = ask();
    assert.equal(calls.length, 1);
    calls[0]?.resolve(1);
    assert.equal(await first, 1);
    const second = ask();
    assert.equal(calls.length, 2, 'a request after the read ended reads again');
    calls[1]?.resolve(2);
    assert.equal(await second, 2);
  });

  it('when requests come while a read is out, then they share the next read, which starts only when that one ends', async () => {
    const { read, calls } = handRead();
    const ask = coalesceReads(read);
    const first = ask();
    const later = [ask(), ask(), ask()];
    await turn();
    assert.equal(calls.length, 1, 'no read starts beside the one out');
    calls[0]?.resolve(1);
    assert.equal(await first, 1);
    await turn();
    assert.equal(calls.length, 2, 'one read for the three that came meanwhile');
    calls[1]?.resolve(2);
    assert.deepEqual(await Promise.all(later), [2, 2, 2], 'none gets the answer read before it came');
  });

  it('when a read fails, then its callers get the error and those waiting get a read of their own', async () => {
    const { read, calls } = handRead();
    const ask = coalesceReads(read);
    const first = ask();
    const waiting = ask();
    calls[0]?.reject(new Error('store down'));
    await assert.rejects(first, /store down/);
    await turn();
    assert.equal(calls.length, 2);
    calls[1]?.resolve(7);
    assert.equal(await waiting, 7);
  });
});
