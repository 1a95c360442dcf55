import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hashHandler } from '../../../src/handlers/hash.js';
import { type HandlerContext, hashPayload } from '../../../src/handlers/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../../src/jobs/envelope.js';
import { newJobId, parseJobId } from '../../../src/jobs/job-id.js';
import { silentLogger } from '../../../src/log.js';
import { parsePayload, prototypeKeyPath, tooDeepElements } from '../../../src/manager/http/read-json-body.js';

function handlerContext(rawPayload: string, params: HandlerContext['params']): HandlerContext {
  return {
    jobId: newJobId(),
    type: 'hash',
    attempt: 1,
    rawPayload,
    params,
    log: silentLogger(),
    signal: new AbortController().signal,
    progress: () => undefined,
  };
}

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

  it('when an envelope carries every mark, then its body is the same text as ever, payload last, and decodes back whole', () => {
    const envelope = {
      id: 'a',
      type: 'hash',
      payload: '{"x":"\u00e9\\n"}',
      maxAttempts: 3,
      params: { algorithm: 'sha1', n: 2 },
      held: true,
      requeued: true,
      group: 'g',
      callback: 'http://x',
      schedule: { name: 's', tick: 't' },
      flow: { dependsOn: ['p1', 'p2'], onParentFailure: 'fail' as const, afterGroup: 'ag' },
      waiting: true,
      released: true,
    };
    const body = encodeEnvelope(envelope);
    assert.equal(
      body,
      '{"id":"a","type":"hash","maxAttempts":3,"params":{"algorithm":"sha1","n":2},"held":true,"requeued":true,' +
        '"group":"g","callback":"http://x","schedule":{"name":"s","tick":"t"},' +
        '"flow":{"dependsOn":["p1","p2"],"onParentFailure":"fail","afterGroup":"ag"},"waiting":true,"released":true,' +
        '"payload":"{\\"x\\":\\"\u00e9\\\\n\\"}"}',
    );
    assert.deepEqual(decodeEnvelope(body), envelope);
    assert.equal(
      encodeEnvelope({
        ...envelope,
        params: {},
        held: false,
        requeued: false,
        waiting: false,
        released: false,
      }),
      '{"id":"a","type":"hash","maxAttempts":3,"group":"g","callback":"http://x","schedule":{"name":"s","tick":"t"},' +
        '"flow":{"dependsOn":["p1","p2"],"onParentFailure":"fail","afterGroup":"ag"},"payload":"{\\"x\\":\\"\u00e9\\\\n\\"}"}',
    );
  });

  it('when a body has odd fields, then decodeEnvelope keeps only what it can trust', () => {
    const body =
      '{"id":"a","type":"t","payload":"x","maxAttempts":0,"params":{"a":1,"b":null,"c":"s","d":1e400},' +
      '"callback":"","schedule":{"name":1},"flow":{"dependsOn":[1]},"held":"yes"}';
    assert.deepEqual(decodeEnvelope(body), {
      id: 'a',
      type: 't',
      payload: 'x',
      maxAttempts: 1,
      params: { a: 1, c: 's' },
    });
    assert.deepEqual(decodeEnvelope('{"id":"a","type":"t","payload":"x","params":{"b":null}}'), {
      id: 'a',
      type: 't',
      payload: 'x',
      maxAttempts: 1,
    });
    for (const bad of ['null', '[]', '{"id":1}', '"x"']) assert.equal(decodeEnvelope(bad), null, bad);
  });

  it("when a hash job runs with no parameters, then its result is the original system's: the MD5 of the payload text's JSON string encoding", async () => {
    // The original README's answer for curl --data '{"example":"data"}':
    // printf '%s' '"{\"example\":\"data\"}"' | md5sum
    const original = '09ee943c4fa33cd5a355eb7a4e38f7ef';
    const text = '{"example":"data"}';
    assert.deepEqual(await hashHandler(JSON.parse(text), handlerContext(text, {})), {
      algorithm: 'md5',
      encoding: 'json',
      hash: original,
    });
    assert.equal(hashPayload(text), original, 'hashPayload with no arguments checks the default job');
    // Still the text as sent, not a re-serialisation: spacing changes the digest.
    assert.notEqual(hashPayload('{"example": "data"}'), hashPayload(text));
  });

  it('when a hash job asks for encoding=raw, then its result is the digest of the bytes as sent', async () => {
    // printf '%s' '{"example":"data"}' | md5sum
    const text = '{"example":"data"}';
    assert.deepEqual(await hashHandler({}, handlerContext(text, { encoding: 'raw' })), {
      algorithm: 'md5',
      encoding: 'raw',
      hash: 'd8d1c0011055fc1d9852c40cf8fbf592',
    });
    assert.equal(hashPayload(text, 'md5', 'raw'), 'd8d1c0011055fc1d9852c40cf8fbf592');
    // printf '%s' '{"example":"data"}' | sha256sum
    assert.deepEqual(await hashHandler({}, handlerContext(text, { encoding: 'raw', algorithm: 'sha256' })), {
      algorithm: 'sha256',
      encoding: 'raw',
      hash: createHash('sha256').update(text).digest('hex'),
    });
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

  it('when a payload holds a key that can reach a prototype, then it is found wherever it is, however it is spelled', () => {
    const found = (text: string) => prototypeKeyPath(JSON.parse(text), text);
    assert.equal(found('{"__proto__":{"polluted":true}}'), '$.__proto__');
    assert.equal(found('{"a":[1,{"b":{"__proto__":1}}]}'), '$.a[1].b.__proto__');
    assert.equal(found('[{"constructor":{"prototype":{"x":1}}}]'), '$[0].constructor.prototype');
    assert.equal(found('{"\\u005f_proto__":1}'), '$.__proto__', 'an escaped spelling is the same key');
    assert.equal(found('{"a b":{"__proto__":null}}'), '$["a b"].__proto__');
    // As Fastify: constructor alone, or a prototype elsewhere, is fine.
    assert.equal(found('{"constructor":"x","prototype":{},"c":{"constructor":[1]}}'), undefined);
    assert.equal(found('{"text":"__proto__ constructor prototype"}'), undefined);
    assert.throws(
      () => parsePayload('{"__proto__":{}}', { maxDepth: 64, forbidPrototypeKeys: true }),
      (error: unknown) => (error as { code?: string }).code === 'FORBIDDEN_KEY',
    );
    assert.deepEqual(
      Object.keys(parsePayload('{"__proto__":{}}', { maxDepth: 64, forbidPrototypeKeys: false }) as object),
      ['__proto__'],
      'allowed: kept as an own key, no prototype touched',
    );
  });
});
