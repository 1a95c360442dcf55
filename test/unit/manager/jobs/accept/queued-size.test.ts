import assert from 'node:assert/strict';
import { AppError, ErrorCode } from '../../../../../src/errors.js';
import { jobIdTime } from '../../../../../src/jobs/job-id.js';
import { largestCopyBytes } from '../../../../../src/jobs/queue-copy.js';
import { createJobService, type JobServiceDeps } from '../../../../../src/manager/jobs/accept/accept.js';
import type { RequestedJob } from '../../../../../src/manager/jobs/accept/options.js';

const PROBE_ID = '00000000-0000-7000-8000-000000000000';

/** The exact bytes of the request's largest copy with this payload, as accept would queue it. */
function exactBytes(request: RequestedJob, payload: string): number {
  return largestCopyBytes({
    _id: PROBE_ID,
    type: request.type,
    payload,
    bytes: 0,
    options: request.options,
    ...(Object.keys(request.params).length > 0 ? { params: { ...request.params } } : {}),
    createdAt: jobIdTime(PROBE_ID),
  });
}

/** checkQueuedSize against a beanstalkd whose max-job-size is `limit`: null when it fits, else the error's code. */
function verdict(limit: number, request: RequestedJob, payload: string): string | null {
  // checkQueuedSize reads only the limit: nothing here talks to beanstalkd or MongoDB.
  const jobs = createJobService({ maxJobSize: () => limit } as unknown as JobServiceDeps);
  try {
    jobs.checkQueuedSize(request, payload);
    return null;
  } catch (error: unknown) {
    assert.ok(error instanceof AppError, String(error));
    return error.code;
  }
}

describe("a batch item's size once queued, checked before anything is recorded", () => {
  const request: RequestedJob = {
    type: 'hash',
    options: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
    params: { algorithm: 'sha256' },
  };
  const payloads = {
    plain: JSON.stringify({ text: 'a'.repeat(500) }),
    quotes: JSON.stringify({ text: '"'.repeat(500) }),
    // Not JSON (a payload never holds a raw control character): the worst case, 6 bytes a character.
    'raw control character': '\u0001'.repeat(500),
    wide: JSON.stringify({ text: '漢😀é'.repeat(200) }),
  };

  for (const [name, payload] of Object.entries(payloads)) {
    it(`when a ${name} payload is exactly at max-job-size once escaped, then it fits, and one byte less refuses it`, () => {
      const exact = exactBytes(request, payload);
      assert.equal(verdict(exact, request, payload), null);
      assert.equal(verdict(exact - 1, request, payload), ErrorCode.PAYLOAD_TOO_LARGE);
    });
  }

  it('when one request is checked again and again (an NDJSON batch), then each payload is judged on its own size', () => {
    const limit = exactBytes(request, payloads.quotes);
    const jobs = createJobService({ maxJobSize: () => limit } as unknown as JobServiceDeps);
    jobs.checkQueuedSize(request, '{"small":1}');
    jobs.checkQueuedSize(request, payloads.quotes);
    assert.throws(
      () => jobs.checkQueuedSize(request, `${payloads.quotes} `),
      (error: unknown) => error instanceof AppError && error.code === ErrorCode.PAYLOAD_TOO_LARGE,
    );
    jobs.checkQueuedSize(request, '{"small":2}');
  });
});
