import assert from 'node:assert/strict';
import { decodeEnvelope } from '../../../src/jobs/envelope.js';
import { jobIdTime, newJobId } from '../../../src/jobs/job-id.js';
import { firstCopy, largestCopyBytes, queueCopy } from '../../../src/jobs/queue-copy.js';
import type { JobDocument } from '../../../src/store/index.js';

function record(overrides: Partial<JobDocument> = {}): JobDocument {
  const id = newJobId();
  return {
    _id: id,
    type: 'hash',
    payload: '{"example":"data"}',
    bytes: 18,
    options: { priority: 7, delay: 30, ttr: 33, maxAttempts: 2 },
    params: { algorithm: 'sha256', encoding: 'raw' },
    group: newJobId(),
    createdAt: jobIdTime(id),
    ...overrides,
  };
}

describe("a job's queue copy, built from its record", () => {
  it('when the first copy is built, then it carries the record: tube, envelope, priority, delay, ttr', () => {
    const job = record();
    const copy = queueCopy(job, 'pre-', { first: true });
    assert.equal(copy.tube, 'pre-hash');
    assert.deepEqual(copy.options, { priority: 7, delay: 30, ttr: 33 });
    assert.deepEqual(decodeEnvelope(copy.body), {
      id: job._id,
      type: 'hash',
      payload: job.payload,
      maxAttempts: 2,
      params: { algorithm: 'sha256', encoding: 'raw' },
      group: job.group,
    });
  });

  it('when a copy is put on an accept hold, then it is delayed by the hold and marked held', () => {
    const job = record({ options: { priority: 7, delay: 0, ttr: 33, maxAttempts: 2 } });
    const copy = queueCopy(job, '', { first: true, holdSeconds: 12 });
    assert.deepEqual(copy.options, { priority: 7, delay: 12, ttr: 33 });
    assert.equal(decodeEnvelope(copy.body)?.held, true);
  });

  it("when a copy is put again, then it is marked requeued, keeps everything else and waits only what is left of the job's delay", () => {
    const job = record();
    const at = (ms: number) => new Date(job.createdAt.getTime() + ms);
    const again = (ms: number) => queueCopy(job, 'pre-', { again: true, now: at(ms) });
    const first = decodeEnvelope(queueCopy(job, 'pre-', { first: true }).body);
    assert.deepEqual(decodeEnvelope(again(0).body), { ...first, requeued: true });
    assert.deepEqual(again(0).options, { priority: 7, delay: 30, ttr: 33 });
    assert.equal(again(10_500).options.delay, 20, 'rounded up to whole seconds');
    assert.equal(again(30_000).options.delay, 0);
    assert.equal(again(3_600_000).options.delay, 0, 'a retried job whose delay is long past runs now');
  });

  it('when a job is sized, then its largest copy is the one put again, and every other copy is no larger', () => {
    const job = record({ options: { priority: 7, delay: 0, ttr: 33, maxAttempts: 2 } });
    const size = (body: string) => Buffer.byteLength(body);
    const largest = largestCopyBytes(job);
    assert.equal(largest, size(queueCopy(job, '', { again: true, now: new Date() }).body));
    assert.ok(size(queueCopy(job, '', { first: true }).body) < largest);
    assert.ok(size(queueCopy(job, '', { first: true, holdSeconds: 5 }).body) < largest);
  });

  it('when accept builds the first copy, then the largest size it reads with it is the one largestCopyBytes computes, for every kind of job', () => {
    const jobs: JobDocument[] = [
      record(),
      record({ params: undefined, group: undefined }),
      record({ payload: '{"text":"line\\nbreak \\"quoted\\" \\u0001 é 漢字 😀"}', bytes: 40 }),
      record({ callback: 'https://hooks.example/done?x=1&y="2"' }),
      record({ schedule: { name: 'nightly', tick: '2026-12-05T00:00:00.000Z' }, group: undefined }),
      record({ options: { priority: 0, delay: 0, ttr: 60, maxAttempts: 1 } }),
      record({ flow: { dependsOn: [newJobId(), newJobId()], onParentFailure: 'fail' } }),
      record({ flow: { dependsOn: [], onParentFailure: 'run', afterGroup: newJobId() } }),
    ];
    for (const job of jobs) {
      for (const kind of [{ first: true as const }, { first: true as const, holdSeconds: 120 }]) {
        const { copy, largestBytes } = firstCopy(job, 'pre-', kind);
        assert.deepEqual(copy, queueCopy(job, 'pre-', kind), 'the copy is the one queueCopy builds');
        assert.equal(largestBytes, largestCopyBytes(job), JSON.stringify({ job, kind }));
      }
    }
  });

  it('when a job has parents, then its copies are a waiter in <prefix>_flows and a released copy in its type’s tube, each within the size accept checks', () => {
    const job = record({
      flow: { dependsOn: [newJobId()], onParentFailure: 'fail' },
      options: { ...record().options, delay: 0 },
    });
    const waiter = queueCopy(job, 'p_', { first: true, holdSeconds: 120 });
    assert.equal(waiter.tube, 'p__flows');
    assert.equal(waiter.options.delay, 0, 'a waiter is never on an accept hold');
    assert.ok(waiter.options.ttr >= 300);
    assert.equal(decodeEnvelope(waiter.body)?.waiting, true);
    const again = queueCopy(job, 'p_', { again: true, now: new Date() });
    assert.equal(again.tube, 'p__flows', 'put again: a waiter again');
    const released = queueCopy(job, 'p_', { released: true, requeued: true });
    assert.equal(released.tube, 'p_hash');
    assert.equal(released.options.ttr, 33);
    assert.deepEqual(decodeEnvelope(released.body)?.flow, job.flow);
    for (const copy of [waiter, again, released])
      assert.ok(Buffer.byteLength(copy.body) <= largestCopyBytes(job));
  });

  it("when a job is a group's completion job, then every copy carries the group it waits for", () => {
    const group = newJobId();
    const job = record({
      flow: { dependsOn: [], onParentFailure: 'run', afterGroup: group },
      group: undefined,
    });
    const waiter = queueCopy(job, 'p_', { first: true });
    assert.equal(waiter.tube, 'p__flows');
    assert.deepEqual(decodeEnvelope(waiter.body)?.flow, {
      dependsOn: [],
      onParentFailure: 'run',
      afterGroup: group,
    });
    const released = queueCopy(job, 'p_', { released: true, requeued: false });
    assert.equal(decodeEnvelope(released.body)?.flow?.afterGroup, group);
    assert.ok(Buffer.byteLength(released.body) <= largestCopyBytes(job));
  });
});
