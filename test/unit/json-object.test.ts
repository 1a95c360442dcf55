import assert from 'node:assert/strict';
import { decodeEnvelope } from '../../src/jobs/envelope.js';
import { isJsonObject, parseJsonObject } from '../../src/json-object.js';
import { decodeDeliveryJob } from '../../src/webhooks/delivery-job.js';

describe('JSON objects: the one test every parser shares', () => {
  it('when a value is an object, then it is one; when it is null, an array or a scalar, then not', () => {
    assert.equal(isJsonObject({}), true);
    assert.equal(isJsonObject({ a: [1] }), true);
    for (const value of [null, undefined, [], [{}], 'x', 1, true]) assert.equal(isJsonObject(value), false);
  });

  it('when text holds an object, then it is parsed; when it is not JSON or not an object, then null', () => {
    assert.deepEqual(parseJsonObject('{"a":{"b":[1,2]}}'), { a: { b: [1, 2] } });
    for (const text of ['', '{', 'null', '[]', '[{"a":1}]', '"{}"', '42', 'true'])
      assert.equal(parseJsonObject(text), null, text);
  });

  it('when a job body or a delivery body is a JSON array or null, then its decoder says it is not one', () => {
    for (const body of ['[]', 'null', '[{"id":"x","type":"hash","payload":"{}"}]', 'not json']) {
      assert.equal(decodeEnvelope(body), null, body);
      assert.equal(decodeDeliveryJob(body), null, body);
    }
  });

  it('when a delivery body carries an event that is an array, then it is not a delivery', () => {
    const body = JSON.stringify({ v: 1, jobId: 'j', deliveryId: 'd', url: 'http://x/', event: ['j'] });
    assert.equal(decodeDeliveryJob(body), null);
    const good = JSON.stringify({
      v: 1,
      jobId: 'j',
      deliveryId: 'd',
      url: 'http://x/',
      event: { id: 'j', state: 'completed' },
    });
    assert.equal(decodeDeliveryJob(good)?.event.id, 'j');
  });
});
