import assert from 'node:assert/strict';
import { hashPayload } from '../../src/handlers/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/jobs/envelope.js';
import { newJobId, parseJobId } from '../../src/jobs/job-id.js';
import { tooDeepElements } from '../../src/manager/read-json-body.js';

describe('job ids, envelopes, hashing, depth', () => {
  it('when ids are minted, then they are unique UUIDv7s that sort by creation', () => {
    const ids = Array.from({ length: 1000 }, () => newJobId());
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
    for (const id of ids) assert.equal(parseJobId(id), id);
  });

  it('when an id is malformed or not v7, then parseJobId refuses it; upper case is canonicalised', () => {
    const id = newJobId();
    assert.equal(parseJobId(id.toUpperCase()), id);
    for (const bad of [
      '',
      'abc',
      `${id}x`,
      id.replace(/-/g, ''),
      '00000000-0000-4000-8000-000000000000',
      `${id.slice(0, 35)}\n`,
      42,
    ]) {
      assert.equal(parseJobId(bad), null, String(bad));
    }
  });

  it('when a payload goes through an envelope, then the exact text comes back', () => {
    const payload = '{ "b": 1,\n  "a": "\u00e9\u{1F600}\\u0000", "n": 1e400 }';
    const envelope = { id: newJobId(), type: 'hash', payload, maxAttempts: 3 };
    assert.deepEqual(decodeEnvelope(encodeEnvelope(envelope)), envelope);
    const held = { ...envelope, held: true };
    assert.deepEqual(decodeEnvelope(encodeEnvelope(held)), held);
    assert.equal(decodeEnvelope(encodeEnvelope({ ...envelope, held: false }))?.held, undefined);
    assert.equal(decodeEnvelope('not json'), null);
    assert.equal(decodeEnvelope('{"id":1,"type":"hash","payload":"{}"}'), null);
  });

  it('when a payload is hashed, then it is the MD5 of its UTF-8 bytes as sent', () => {
    // echo -n '{"example":"data"}' | md5sum
    assert.equal(hashPayload('{"example":"data"}'), 'd8d1c0011055fc1d9852c40cf8fbf592');
    assert.notEqual(hashPayload('{"example": "data"}'), hashPayload('{"example":"data"}'));
  });

  it('when nesting is deeper than the cap, then the depth check says so from the text, before parsing', () => {
    assert.deepEqual(tooDeepElements(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, 64), [0]);
    assert.deepEqual(tooDeepElements('{"a":[{"b":1}]}', 3), []);
    assert.deepEqual(tooDeepElements('{"a":[{"b":{}}]}', 3), [0]);
    // Brackets and escaped quotes inside strings are not nesting.
    assert.deepEqual(tooDeepElements('{"a":"[[[{{{\\"[[["}', 2), []);
    // In a top-level array, the elements that reach too deep, each once.
    assert.deepEqual(tooDeepElements('[{"p":1}, [[[[]]]], {"p":"],["}, {"p":[[[[1],[2]]]]}]', 3), [1, 3]);
  });
});
