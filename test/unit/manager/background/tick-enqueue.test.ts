/** A schedule tick's job accepted, refused for good, or left for later (manager/background/tick-enqueue). */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { AppError, ErrorCode } from '../../../../src/errors.js';
import type { Logger } from '../../../../src/log.js';
import { enqueueTick, type TickEnqueueDeps } from '../../../../src/manager/background/tick-enqueue.js';
import type { JobService } from '../../../../src/manager/jobs/accept/accept.js';
import type { ScheduleDocument } from '../../../../src/store/index.js';

const tick = new Date('2026-12-06T12:00:00Z');
const schedule = {
  _id: 'nightly',
  gen: 'g1',
  type: 'hash',
  options: {},
  payload: '{"n":1}',
  bytes: 7,
} as unknown as ScheduleDocument;

/** A logger that keeps each line's level and message. */
function keptLog(): { log: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

function setup(answer: () => Promise<{ id: string; replayed: boolean }>) {
  const { log, lines } = keptLog();
  const calls: Array<{ key: string | undefined; schedule: unknown }> = [];
  const accepted: string[] = [];
  const jobs = {
    accept: async (request: { schedule?: unknown }, _payload: unknown, key?: string) => {
      calls.push({ key, schedule: request.schedule });
      return await answer();
    },
  } as unknown as Pick<JobService, 'accept'>;
  const deps: TickEnqueueDeps = { jobs, log, failing: new Set(), onAccepted: (type) => accepted.push(type) };
  return { deps, lines, calls, accepted };
}

describe('a schedule tick enqueued', () => {
  it('when the accept succeeds, then the job id comes back under the tick key and a failing schedule is cleared', async () => {
    const { deps, calls, accepted, lines } = setup(async () => ({ id: 'job-1', replayed: false }));
    deps.failing.add('nightly');

    const outcome = await enqueueTick(deps, schedule, tick, false);

    assert.deepEqual(outcome, { jobId: 'job-1' });
    assert.equal(calls.length, 1);
    assert.match(calls[0]?.key ?? '', / /, 'a tick key holds a space, which no client key can');
    assert.deepEqual(calls[0]?.schedule, { name: 'nightly', tick: tick.toISOString() });
    assert.deepEqual(accepted, ['hash']);
    assert.equal(deps.failing.has('nightly'), false);
    assert.ok(lines.some((line) => line.msg === 'schedule enqueues again'));
  });

  it('when the accept replays the key, then the same job comes back and it is not counted again', async () => {
    const { deps, accepted } = setup(async () => ({ id: 'job-1', replayed: true }));

    assert.deepEqual(await enqueueTick(deps, schedule, tick, true), { jobId: 'job-1' });
    assert.deepEqual(accepted, []);
  });

  it('when a backend is down, then the tick is left for later and the warning is logged once', async () => {
    const { deps, lines, accepted } = setup(async () => {
      throw new AppError(ErrorCode.STORE_UNAVAILABLE, 'MongoDB is unavailable');
    });

    assert.equal(await enqueueTick(deps, schedule, tick, false), 'later');
    assert.equal(await enqueueTick(deps, schedule, tick, false), 'later');

    assert.equal(deps.failing.has('nightly'), true);
    assert.equal(lines.filter((line) => line.msg === 'tick not enqueued; will retry').length, 1);
    assert.deepEqual(accepted, []);
  });

  it('when the job itself is refused, then the tick is refused for good with its code', async () => {
    const { deps, lines } = setup(async () => {
      throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, 'the job is larger than beanstalkd takes');
    });

    const outcome = await enqueueTick(deps, schedule, tick, false);

    assert.deepEqual(outcome, {
      refused: { code: ErrorCode.PAYLOAD_TOO_LARGE, message: 'the job is larger than beanstalkd takes' },
    });
    assert.equal(deps.failing.has('nightly'), false);
    assert.ok(lines.some((line) => line.msg === 'tick refused; going on to the next'));
  });
});
