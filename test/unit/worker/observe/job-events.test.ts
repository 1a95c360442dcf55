/** Starts and progress of running jobs (worker/observe/job-events.ts), over stand-ins for the tally and the store. */
import assert from 'node:assert/strict';
import type { Envelope } from '../../../../src/jobs/envelope.js';
import { silentLogger } from '../../../../src/log.js';
import type { NoticeEvent, ProgressDocument } from '../../../../src/store/index.js';
import { createJobEvents } from '../../../../src/worker/observe/job-events.js';
import { waitFor } from '../../../support/harness.js';

const envelope: Envelope = { id: 'job-1', type: 'hash', payload: '{}', maxAttempts: 1, group: 'g' };

function standIns() {
  const noticed: NoticeEvent[] = [];
  const written: ProgressDocument[] = [];
  const events = createJobEvents({
    tally: { noteEvent: (event) => noticed.push(event) },
    store: {
      saveProgress: async (doc) => {
        written.push(doc);
      },
    },
    log: silentLogger(),
    everyMs: 100,
  });
  return { noticed, written, events };
}

describe('job events of a worker (worker/job-events)', () => {
  it('when a handler reports progress many times a second, then at most one write per interval goes out, the latest value last', async () => {
    const { noticed, written, events } = standIns();
    events.started(envelope, 2);
    const progress = events.progressFor(envelope, 2);
    progress(10);
    for (let p = 11; p <= 50; p += 1) progress(p, { p });
    assert.equal(written.length, 1, 'the first at once, the rest wait for the interval');
    await waitFor('the trailing write', () => written.length === 2, 2000, 5);
    assert.deepEqual([written[1]?.percent, written[1]?.data], [50, { p: 50 }]);
    assert.deepEqual(
      noticed.map((e) => [e.kind, e.percent, e.group, e.attempt]),
      [
        ['started', undefined, 'g', 2],
        ['progress', 10, 'g', 2],
        ['progress', 50, 'g', 2],
      ],
    );
    events.ended(envelope.id);
  });

  it('when the run ends, then a waiting write is dropped and later reports are ignored', async () => {
    const { written, events } = standIns();
    const progress = events.progressFor(envelope, 1);
    // A second job reporting alongside: its trailing write tells when job-1's would have come.
    const witness = events.progressFor({ ...envelope, id: 'job-2' }, 1);
    progress(1);
    witness(1);
    progress(2);
    witness(2);
    events.ended(envelope.id);
    progress(3);
    await waitFor(
      'the trailing write of the witness',
      () => written.some((w) => w._id === 'job-2' && w.percent === 2),
      2000,
      5,
    );
    assert.deepEqual(
      written.filter((w) => w._id === envelope.id).map((w) => w.percent),
      [1],
    );
    events.ended('job-2');
  });

  it('when a handler passes a bad value, then progress throws a RangeError and writes nothing', () => {
    const { written, events } = standIns();
    const progress = events.progressFor(envelope, 1);
    for (const bad of [-1, 101, Number.NaN, Number.POSITIVE_INFINITY, '50' as unknown as number]) {
      assert.throws(() => progress(bad), RangeError, String(bad));
    }
    assert.throws(() => progress(5, { big: 'x'.repeat(2000) }), RangeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => progress(5, cyclic), RangeError);
    assert.equal(written.length, 0);
    events.ended(envelope.id);
  });
});
