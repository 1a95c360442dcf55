import assert from 'node:assert/strict';
import { QueueError, QueueErrorCode } from '../../../src/queue/index.js';
import { statsOf } from '../../../src/worker/delivery-count.js';

describe('the stats of a job just reserved (worker/delivery-count statsOf)', () => {
  const job = { beanstalkId: '7', body: '{}' };
  const stats = (id: string) =>
    ({ id, tube: 't', state: 'reserved', reserves: 2, ttr: 60, kicks: 0, priority: 0, releases: 0 }) as never;
  /** A consumer that only answers stats-job, counting how often it was asked. */
  function consumer() {
    const asked: string[] = [];
    return {
      asked,
      consumer: {
        statsJob: async (id: string) => {
          asked.push(id);
          return stats(`own-${id}`);
        },
      } as never,
    };
  }

  it('when the shared lane answers, then the slot’s own connection is not asked', async () => {
    const own = consumer();
    const got = await statsOf({ consumer: own.consumer, jobStats: async (id) => stats(`lane-${id}`) }, job);
    assert.equal(got.id, 'lane-7');
    assert.deepEqual(own.asked, []);
  });

  it('when the lane’s connection fails, then the slot’s own connection is asked instead', async () => {
    for (const code of [QueueErrorCode.UNAVAILABLE, QueueErrorCode.TIMEOUT, QueueErrorCode.SERVER_ERROR]) {
      const own = consumer();
      const got = await statsOf(
        { consumer: own.consumer, jobStats: async () => Promise.reject(new QueueError(code, code)) },
        job,
      );
      assert.equal(got.id, 'own-7', code);
      assert.deepEqual(own.asked, ['7'], code);
    }
  });

  it('when the lane says the job is not found, then that is the answer: the job is no longer there', async () => {
    const own = consumer();
    await assert.rejects(
      statsOf(
        {
          consumer: own.consumer,
          jobStats: async () => Promise.reject(new QueueError(QueueErrorCode.NOT_FOUND, 'NOT_FOUND')),
        },
        job,
      ),
      { code: QueueErrorCode.NOT_FOUND },
    );
    assert.deepEqual(own.asked, []);
  });

  it('when there is no lane, then the slot’s own connection is asked', async () => {
    const own = consumer();
    assert.equal((await statsOf({ consumer: own.consumer }, job)).id, 'own-7');
  });
});
