/** The delivery job's body, the event, the delivery id and the webhook tube. */
import assert from 'node:assert/strict';
import { decodeEnvelope, encodeEnvelope } from '../../../src/jobs/envelope.js';
import { typeOfTube } from '../../../src/jobs/queue-copy.js';
import type { ResultDocument } from '../../../src/store/index.js';
import { retryDelaySeconds, secondsUntilGivingUp } from '../../../src/webhooks/backoff.js';
import {
  decodeDeliveryJob,
  deliveryIdOf,
  encodeDeliveryJob,
  eventOf,
  MAX_EVENT_RESULT_BYTES,
  webhookTube,
} from '../../../src/webhooks/delivery-job.js';

const finishedAt = new Date('2026-01-02T03:04:05.678Z');
const outcome = (extra: Partial<ResultDocument> = {}): ResultDocument => ({
  _id: '01a2088b-df96-7646-bd15-7540a8817d53',
  type: 'hash',
  outcome: 'completed',
  result: { algorithm: 'md5', hash: '09ee943c4fa33cd5a355eb7a4e38f7ef' },
  worker: 'w:0',
  attempt: 2,
  payload: '{"secret":"never in the event"}',
  startedAt: finishedAt,
  finishedAt,
  durationMs: 0,
  ...extra,
});

describe('webhook delivery jobs', () => {
  it('when an envelope carries a callback URL, then it survives encode and decode, and an envelope without one has none', () => {
    const envelope = {
      id: 'a',
      type: 'hash',
      payload: '{}',
      maxAttempts: 3,
      callback: 'https://example.com/hook?x=1',
    };
    assert.deepEqual(decodeEnvelope(encodeEnvelope(envelope)), envelope);
    const plain = decodeEnvelope(encodeEnvelope({ id: 'a', type: 'hash', payload: '{}', maxAttempts: 1 }));
    assert.equal(plain?.callback, undefined);
    assert.ok(!encodeEnvelope({ id: 'a', type: 'hash', payload: '{}', maxAttempts: 1 }).includes('callback'));
  });

  it('when an outcome is turned into an event, then it names id, state, type and finishedAt, the result, and never the payload', () => {
    const event = eventOf(outcome());
    assert.deepEqual(event, {
      deliveryId: `01a2088b-df96-7646-bd15-7540a8817d53.completed.${finishedAt.getTime()}`,
      event: 'job.completed',
      id: '01a2088b-df96-7646-bd15-7540a8817d53',
      type: 'hash',
      state: 'completed',
      finishedAt: '2026-01-02T03:04:05.678Z',
      attempts: 2,
      result: { algorithm: 'md5', hash: '09ee943c4fa33cd5a355eb7a4e38f7ef' },
    });
    assert.ok(!JSON.stringify(event).includes('never in the event'));
  });

  it('when a failed outcome has a long error or a result too big, then the event stays small', () => {
    const failed = eventOf(
      outcome({ outcome: 'failed', result: undefined, error: { message: 'x'.repeat(5000) } }),
    );
    assert.equal(failed.error?.message.length, 1000);
    assert.equal(failed.event, 'job.failed');
    const big = eventOf(outcome({ result: { blob: 'y'.repeat(MAX_EVENT_RESULT_BYTES) } }));
    assert.equal(big.result, undefined);
    assert.equal(big.resultOmitted, true);
  });

  it('when the same stored outcome is enqueued twice, then both carry one delivery id; another end of the job gets another', () => {
    assert.equal(deliveryIdOf(outcome()), deliveryIdOf(outcome({ worker: 'someone else', attempt: 3 })));
    assert.notEqual(deliveryIdOf(outcome()), deliveryIdOf(outcome({ outcome: 'cancelled' })));
    assert.notEqual(
      deliveryIdOf(outcome()),
      deliveryIdOf(outcome({ finishedAt: new Date(finishedAt.getTime() + 1) })),
    );
  });

  it('when a delivery job is encoded, then it decodes to itself; a body that is not one decodes to null', () => {
    const job = {
      jobId: outcome()._id,
      deliveryId: deliveryIdOf(outcome()),
      url: 'https://example.com/h',
      event: eventOf(outcome()),
    };
    assert.deepEqual(decodeDeliveryJob(encodeDeliveryJob(job)), job);
    const announced = { ...job, confirm: true as const };
    assert.deepEqual(
      decodeDeliveryJob(encodeDeliveryJob(announced)),
      announced,
      'a cancel announced first keeps its mark',
    );
    for (const junk of [
      '',
      'nope',
      '[]',
      '{"v":2}',
      JSON.stringify({ ...job, v: 1, event: { id: 'other' } }),
    ])
      assert.equal(decodeDeliveryJob(junk), null, junk);
  });

  it('when tubes are listed, then the webhook tube is never read as a job type', () => {
    assert.equal(webhookTube('p.'), 'p._webhooks');
    assert.equal(typeOfTube(webhookTube('p.'), 'p.'), null);
    assert.equal(typeOfTube(webhookTube(''), ''), null);
    assert.equal(typeOfTube('p.hash', 'p.'), 'hash');
  });

  it('when deliveries keep failing, then the waits double from 1 s, cap at 1 h, and 36 attempts span about 24 hours', () => {
    const schedule = { baseMs: 1000, capMs: 3_600_000, maxAttempts: 36 };
    assert.deepEqual(
      [1, 2, 3, 4, 12, 13, 35].map((attempt) => retryDelaySeconds(attempt, schedule)),
      [1, 2, 4, 8, 2048, 3600, 3600],
    );
    const total = secondsUntilGivingUp(schedule);
    assert.equal(total, 4095 + 23 * 3600);
    assert.ok(total > 23.5 * 3600 && total < 24.5 * 3600, `${total} s`);
    assert.equal(retryDelaySeconds(1, { baseMs: 0, capMs: 0 }), 0);
    assert.equal(retryDelaySeconds(1, { baseMs: 1500, capMs: 60_000 }), 2, 'rounded up to whole seconds');
  });
});
