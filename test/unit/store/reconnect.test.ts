/**
 * keepConnecting above a stand-in client (the real driver's behaviour is in
 * test/integration/store.test.ts): a client with no successful heartbeat for a while is
 * connected afresh; one whose heartbeats succeed is left alone. Time is Node's mock clock.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mock } from 'node:test';
import { keepConnecting, type ReconnectableClient } from '../../../src/store/driver/reconnect.js';

/** A client that counts close() and connect(); close() says 'topologyClosed', as the driver does. */
function standInClient(options: { saysClosed: boolean } = { saysClosed: true }) {
  const events = new EventEmitter();
  const calls = { close: 0, connect: 0 };
  const client = {
    on(event: string, listener: (...args: unknown[]) => void) {
      events.on(event, listener);
      return client;
    },
    async close() {
      calls.close += 1;
      if (options.saysClosed) events.emit('topologyClosed');
    },
    async connect() {
      calls.connect += 1;
      return client;
    },
  } as unknown as ReconnectableClient;
  return { client, events, calls };
}

/** Lets the promise callbacks queued by the timers that ran settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('keepConnecting', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('when no heartbeat succeeds for silentAfterMs, then the client is closed and connected again, once', async () => {
    const { client, calls } = standInClient();
    const silences: number[] = [];
    const stop = keepConnecting(client, { silentAfterMs: 1000, onSilent: (ms) => silences.push(ms) });
    mock.timers.tick(999);
    await settle();
    assert.equal(calls.close, 0, 'not before silentAfterMs');
    mock.timers.tick(1);
    await settle();
    assert.equal(calls.close, 1);
    assert.deepEqual(silences, [1000]);
    mock.timers.tick(100); // the reconnect loop's first wait
    await settle();
    assert.equal(calls.connect, 1);
    // Connected again: the silence is counted from then, so no second reset at once.
    mock.timers.tick(999);
    await settle();
    assert.equal(calls.close, 1);
    stop();
  });

  it('when heartbeats succeed, then the client is left alone', async () => {
    const { client, events, calls } = standInClient();
    const stop = keepConnecting(client, { silentAfterMs: 1000 });
    for (let t = 0; t < 5000; t += 500) {
      mock.timers.tick(500);
      events.emit('serverHeartbeatSucceeded');
      await settle();
    }
    assert.equal(calls.close, 0);
    assert.equal(calls.connect, 0);
    stop();
  });

  it('when only failed heartbeats come for silentAfterMs, then the client is connected afresh', async () => {
    const { client, events, calls } = standInClient();
    const stop = keepConnecting(client, { silentAfterMs: 1000 });
    for (let t = 0; t < 1000; t += 250) {
      mock.timers.tick(250);
      events.emit('serverHeartbeatFailed');
      await settle();
    }
    assert.equal(calls.close, 1);
    stop();
  });

  it('when a silent client never opened a topology (close says nothing), then it is connected all the same', async () => {
    const { client, calls } = standInClient({ saysClosed: false });
    const stop = keepConnecting(client, { silentAfterMs: 1000 });
    mock.timers.tick(1000);
    await settle();
    assert.equal(calls.close, 1);
    mock.timers.tick(100);
    await settle();
    assert.equal(calls.connect, 1);
    stop();
  });

  it('when stopped, then a silent client is no longer touched', async () => {
    const { client, calls } = standInClient();
    const stop = keepConnecting(client, { silentAfterMs: 1000 });
    stop();
    mock.timers.tick(5000);
    await settle();
    assert.equal(calls.close, 0);
  });
});
