/** A schedule body's payload found as the exact text sent, and its fields checked: no server. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode } from '../../../../src/errors.js';
import { parseScheduleBody, topLevelMembers } from '../../../../src/manager/schedules/schedule-body.js';

const rules = {
  defaultOptions: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
  allowedTypes: [],
  maxJsonDepth: 64,
  forbidPrototypeKeys: true,
  checkQueuedSize: () => undefined,
};
const parse = (text: string) =>
  parseScheduleBody({ text, bytes: text.length, value: JSON.parse(text) }, rules);

describe('a schedule body', () => {
  it('when any JSON object is scanned, then each member’s text parses to that member’s value', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const members = topLevelMembers(text);
        assert.deepEqual([...members.keys()].sort(), Object.keys(value).sort());
        // Compared with the value as JSON carries it: -0 is written "0" and comes back 0.
        for (const [key, [span]] of members)
          assert.deepEqual(
            JSON.parse(text.slice(span!.start, span!.end)),
            JSON.parse(JSON.stringify(value[key])),
          );
      }),
    );
  });

  it('when the payload is sent with its own spacing, then the schedule keeps exactly that text', () => {
    const payload = '{ "b" : [1, 2.50, "x\\"y"],  "a":{} }';
    const request = parse(
      `{"name":"n","every_seconds":5,"payload": ${payload}\n, "options": {"priority": "7"}}`,
    );
    assert.equal(request.payload.text, payload);
    assert.equal(request.payload.bytes, Buffer.byteLength(payload));
    assert.equal(request.job.options.priority, 7);
    assert.deepEqual([request.everySeconds, request.timezone, request.catchUp], [5, 'UTC', 'once']);
  });

  it('when a cron pattern and a time zone are given, then the zone is kept in its canonical spelling', () => {
    const request = parse('{"name":"n","cron":" 0 3 * * * ","timezone":"asia/tokyo","payload":[]}');
    assert.deepEqual([request.cron, request.timezone], ['0 3 * * *', 'Asia/Tokyo']);
  });

  it('when a field is bad, then the code says whose problem it is', () => {
    const refused = (text: string, code: ErrorCode) =>
      assert.throws(
        () => parse(text),
        (error: unknown) => (error as { code?: string }).code === code,
        text,
      );
    refused('{"name":"n","every_seconds":5,"payload":{},"nope":1}', ErrorCode.INVALID_SCHEDULE);
    refused('{"name":"n","every_seconds":5,"payload":{"__proto__":{}}}', ErrorCode.FORBIDDEN_KEY);
    refused('{"name":"n","every_seconds":5,"payload":"text"}', ErrorCode.INVALID_JOB);
    refused('{"name":"n","every_seconds":5,"payload":{},"type":"other"}', ErrorCode.UNKNOWN_JOB_TYPE);
    refused('{"name":"n","every_seconds":5,"payload":{},"options":{"ttr":0}}', ErrorCode.INVALID_OPTION);
    refused('{"name":"n","every_seconds":5,"payload":{},"options":[]}', ErrorCode.INVALID_OPTION);
    refused(
      '{"name":"n","cron":"* * * * *","timezone":"Nowhere/City","payload":{}}',
      ErrorCode.INVALID_SCHEDULE,
    );
  });
});
