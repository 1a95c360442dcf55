import assert from 'node:assert/strict';
import { QueueError, QueueErrorCode } from '../../../src/queue/index.js';
import { deliveriesLost, statsOf } from '../../../src/worker/delivery-count.js';

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

describe('deliveries lost with their workers (worker/delivery-count deliveriesLost)', () => {
  const lost = (reserves: number, releases: number, buries: number) =>
    deliveriesLost({ reserves, releases, buries });

  it('when this is the first delivery, then none was lost', () => {
    assert.equal(lost(1, 0, 0), 0);
  });

  it('when earlier deliveries ended in nothing beanstalkd counts, then each of them was lost', () => {
    assert.equal(lost(3, 0, 0), 2, 'two workers died holding it');
  });

  it('when earlier deliveries were released by their worker (a failure, a stop, a store outage, a limit), then they do not count', () => {
    assert.equal(lost(13, 12, 0), 0, 'twelve releases through an outage spend nothing');
    assert.equal(lost(4, 2, 0), 1, 'two released, one lost');
  });

  it('when an earlier delivery was buried and kicked back, then it does not count either', () => {
    assert.equal(lost(2, 0, 1), 0);
  });

  it('when the counters disagree (a beanstalkd restart does not keep every reserve), then none is lost rather than fewer than none', () => {
    assert.equal(lost(1, 2, 0), 0);
    assert.equal(lost(0, 0, 0), 0);
  });
});
