/** The webhook signature matches what a receiver computes on its own. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { deliveryHeaders, signature, USER_AGENT } from '../../../src/webhooks/sign.js';

const SECRET = 'whsec-test-secret-0123456789';

describe('webhook signature', () => {
  it('when a body is signed, then the signature is the known HMAC-SHA256 of "<timestamp>.<body>" (computed with openssl)', () => {
    const body = '{"id":"job-1","state":"completed"}';
    assert.equal(
      signature(SECRET, 1_700_000_000, body),
      'sha256=a5be8b456c5be976c65df6a8282fa907e6705f78a61273ab0ca27c085aaf8ccf',
    );
  });

  it('when the headers of an attempt are built, then a receiver recomputes the same signature from the timestamp header and the raw body', () => {
    const body = JSON.stringify({ id: 'j', state: 'failed', error: { message: 'ü and "quotes"' } });
    const headers = deliveryHeaders({
      secret: SECRET,
      body,
      deliveryId: 'j.failed.1',
      now: new Date(1_700_000_123_456),
    });
    assert.equal(headers['X-DW-Timestamp'], '1700000123');
    const expected = createHmac('sha256', SECRET).update(`1700000123.${body}`).digest('hex');
    assert.equal(headers['X-DW-Signature'], `sha256=${expected}`);
    assert.equal(headers['X-DW-Delivery'], 'j.failed.1');
    assert.equal(headers['Content-Type'], 'application/json');
    assert.match(headers['User-Agent'] ?? '', /distributed-workers/);
    assert.equal(headers['User-Agent'], USER_AGENT);
  });

  it('when the body or the secret differs by one character, then the signature differs', () => {
    const body = '{"id":"x"}';
    const base = signature(SECRET, 1, body);
    assert.notEqual(signature(SECRET, 1, '{"id":"y"}'), base);
    assert.notEqual(signature(`${SECRET}x`, 1, body), base);
    assert.notEqual(signature(SECRET, 2, body), base);
  });
});
