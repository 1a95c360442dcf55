import assert from 'node:assert/strict';
import type { Context } from 'koa';
import { RequestsInHand } from '../../../../src/manager/http/requests-in-hand.js';

/** A request's handler that runs until `finish` is called (failing when asked). */
function handler() {
  let finish: (fail?: boolean) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    finish = (fail = false) => (fail ? reject(new Error('handler failed')) : resolve());
  });
  return { next: () => done, finish: (fail?: boolean) => finish(fail) };
}

describe('requests in hand (manager/http/requests-in-hand.ts)', () => {
  it('when requests are in the chain, then settled waits until the last one has answered, failed ones included', async () => {
    const inHand = new RequestsInHand();
    const middleware = inHand.middleware();
    const a = handler();
    const b = handler();
    const first = middleware({} as Context, a.next);
    const second = middleware({} as Context, b.next).catch(() => 'failed');
    assert.equal(inHand.count, 2);
    let settled: boolean | undefined;
    const waiting = inHand.settled(10_000).then((value) => {
      settled = value;
    });
    a.finish();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, undefined, 'one request is still in hand');
    b.finish(true);
    assert.equal(await second, 'failed');
    await waiting;
    assert.equal(settled, true);
    assert.equal(inHand.count, 0);
    assert.equal(await inHand.settled(10_000), true, 'nothing in hand: at once');
  });

  it('when a request outlasts the timeout, then settled answers false and the request is still counted', async () => {
    const inHand = new RequestsInHand();
    const slow = handler();
    const running = inHand.middleware()({} as Context, slow.next);
    assert.equal(await inHand.settled(20), false);
    assert.equal(inHand.count, 1);
    slow.finish();
    await running;
    assert.equal(inHand.count, 0);
  });

  it('when closed, then each answer Koa writes closes its connection, and one handed over is left alone', async () => {
    const inHand = new RequestsInHand();
    const middleware = inHand.middleware();
    const ctxOf = (respond = true) => {
      const headers: Record<string, string> = {};
      const ctx = {
        respond,
        headerSent: false,
        set: (name: string, value: string) => (headers[name] = value),
      };
      return { ctx: ctx as unknown as Context, headers };
    };
    const before = ctxOf();
    await middleware(before.ctx, async () => undefined);
    assert.deepEqual(before.headers, {}, 'not closing: connections are kept');
    const spanning = ctxOf();
    const slow = handler();
    const running = middleware(spanning.ctx, slow.next);
    inHand.close();
    slow.finish();
    await running;
    assert.deepEqual(spanning.headers, { Connection: 'close' }, 'a request that began before the close');
    const after = ctxOf();
    await middleware(after.ctx, async () => undefined);
    assert.deepEqual(after.headers, { Connection: 'close' });
    const handedOver = ctxOf(false);
    await middleware(handedOver.ctx, async () => undefined);
    assert.deepEqual(handedOver.headers, {}, 'a long-poll writes its own answer');
  });
});
