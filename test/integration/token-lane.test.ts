/**
 * The beanstalkd pieces of the limits (docs/limits-design.md) on a real server: a token lane
 * whose connection is lost, and a consumer whose watched tubes change between reserves.
 */
import assert from 'node:assert/strict';
import { createConsumer, createQueueClient, createTokenLane } from '../../src/queue/index.js';
import { backends, isolation, startTcpProxy, tubeCounts, waitFor } from '../support/harness.js';

const timeouts = { connectTimeoutMs: 1000, commandTimeoutMs: 2000 };

describe('token lanes and changing watch lists on a real beanstalkd', function () {
  this.timeout(30_000);
  let port: number;
  let prefix: string;

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(() => {
    prefix = isolation('lane').tubePrefix;
  });

  it("when a lane's connection is lost, then its tokens are back at once and giving one back later releases nothing on the new connection", async () => {
    const queue = createQueueClient({ host: '127.0.0.1', port, ...timeouts });
    const proxy = await startTcpProxy(port);
    const tube = `${prefix}_tokens.run.x`;
    const lane = createTokenLane({ host: '127.0.0.1', port: proxy.port, ...timeouts, tube });
    try {
      await queue.put(tube, '{"token":"run"}', { priority: 0, delay: 0, ttr: 300 });
      const first = await lane.take();
      assert.ok(first);
      assert.equal((await tubeCounts(port, tube)).reserved, 1);

      proxy.cutAll();
      await waitFor('the token back in the tube', async () => (await tubeCounts(port, tube)).ready === 1);
      // The lane reconnects and takes the same token (same id) again: now it is held anew.
      const again = await lane.take();
      assert.equal(again?.beanstalkId, first.beanstalkId);
      // The old handle's release must not free the token the new connection holds.
      await lane.giveBack(first, 0);
      assert.equal((await tubeCounts(port, tube)).reserved, 1, 'still held');
      await lane.giveBack(again as NonNullable<typeof again>, 0);
      assert.equal((await tubeCounts(port, tube)).ready, 1);
      assert.equal(await lane.hasTokens(), true);
    } finally {
      await lane.close();
      await proxy.close();
      await queue.close();
    }
  });

  it('when a consumer watches other tubes between reserves, then it reserves only from the ones it watches now, also after a reconnect', async () => {
    const queue = createQueueClient({ host: '127.0.0.1', port, ...timeouts });
    const proxy = await startTcpProxy(port);
    const [a, b] = [`${prefix}a`, `${prefix}b`];
    const consumer = createConsumer({ host: '127.0.0.1', port: proxy.port, ...timeouts, tubes: [a, b] });
    try {
      await queue.put(b, 'in b', { priority: 0, delay: 0, ttr: 60 });
      await consumer.setTubes([a]);
      assert.equal(await consumer.reserve(0), null, 'b is not watched');
      proxy.cutAll();
      await waitFor('a fresh connection', async () => {
        try {
          return (await consumer.reserve(0)) === null;
        } catch {
          return false;
        }
      });
      assert.equal(await consumer.reserve(0), null, 'still only a after the reconnect');
      await consumer.setTubes([a, b]);
      const job = await consumer.reserve(0);
      assert.equal(job?.body, 'in b');
      await consumer.delete(job.beanstalkId);
      await assert.rejects(consumer.setTubes([]), /at least one tube/);
    } finally {
      await consumer.close();
      await proxy.close();
      await queue.close();
    }
  });
});
