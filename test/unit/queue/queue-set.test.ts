import assert from 'node:assert/strict';
import { type QueueClient, QueueError, QueueErrorCode, queueSetOf } from '../../../src/queue/index.js';

/** A server whose puts answer with `answer` (an id, or an error thrown); counts its puts. */
function server(name: string, answer: () => string) {
  const client = {
    server: name,
    puts: 0,
    put: async () => {
      client.puts += 1;
      return answer();
    },
    deleteJob: async () => undefined,
  };
  return client;
}
const asClients = (...servers: Array<ReturnType<typeof server>>) => servers as unknown as QueueClient[];
const options = { priority: 1, delay: 0, ttr: 1 };

describe('several beanstalkd servers as one queue (queue/queue-set)', () => {
  it('when puts go out, then they take turns over the servers and say where each landed', async () => {
    const a = server('a:1', () => '7');
    const b = server('b:1', () => '9');
    const set = queueSetOf({ clients: asClients(a, b), goneAfterMs: 1000 });
    const placed = [
      await set.put('t', 'x', options),
      await set.put('t', 'x', options),
      await set.put('t', 'x', options),
    ];
    assert.deepEqual(placed, [
      { server: 'a:1', beanstalkId: '7' },
      { server: 'b:1', beanstalkId: '9' },
      { server: 'a:1', beanstalkId: '7' },
    ]);
    assert.equal(set.holder({ server: 'b:1', beanstalkId: '9' }), b as unknown as QueueClient);
    assert.throws(() => set.holder({ server: 'c:1', beanstalkId: '1' }), /not one of this set's servers/);
  });

  it('when a server refuses a put, then the next one takes it, and the failing one is passed over afterwards', async () => {
    const down = server('a:1', () => {
      throw new QueueError(QueueErrorCode.UNAVAILABLE, 'refused');
    });
    const up = server('b:1', () => '3');
    const set = queueSetOf({ clients: asClients(down, up), goneAfterMs: 60_000 });
    for (let i = 0; i < 4; i += 1)
      assert.deepEqual(await set.put('t', 'x', options), { server: 'b:1', beanstalkId: '3' });
    assert.equal(down.puts, 1, 'tried once, then passed over');
    assert.deepEqual(
      set.down().map((d) => d.server),
      ['a:1'],
    );
    assert.equal(set.isGone('a:1'), false, 'down, not yet gone');
    assert.equal(set.isGone('z:9'), true, 'a server not in the set counts as gone');
    set.noteUp('a:1');
    assert.deepEqual(set.down(), []);
  });

  it('when a put is in doubt or too big, then it is not moved to another server', async () => {
    for (const error of [
      new QueueError(QueueErrorCode.UNAVAILABLE, 'closed under the put', { inDoubt: true }),
      new QueueError(QueueErrorCode.JOB_TOO_BIG, 'too big'),
    ]) {
      const first = server('a:1', () => {
        throw error;
      });
      const second = server('b:1', () => '1');
      const set = queueSetOf({ clients: asClients(first, second), goneAfterMs: 1000 });
      await assert.rejects(set.put('t', 'x', options), (thrown: unknown) => thrown === error);
      assert.equal(second.puts, 0);
    }
  });
});
