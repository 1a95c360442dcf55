import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { HandlerContext } from '../../../src/handlers/index.js';
import { summaryHandler } from '../../../src/handlers/summary.js';
import { readGroupResults } from '../../../src/jobs/group-results.js';
import { silentLogger } from '../../../src/log.js';
import type { GroupDocument, GroupMark } from '../../../src/store/index.js';

const group: GroupDocument = {
  _id: 'g1',
  type: 'hash',
  total: 3,
  axes: { n: [1, 2, 3] },
  excluded: 0,
  createdAt: new Date(0),
  jobs: [
    { id: 'a', combination: { n: 1 } },
    { id: 'b', combination: { n: 2 } },
    { id: 'c', combination: { n: 3 } },
  ],
};

/** A store holding the group and these marks (member id → mark). */
function storeWith(marks: GroupMark[]) {
  return {
    findGroup: async (id: string) => (id === group._id ? group : null),
    readGroupMarks: async () => Object.assign(new Map(marks.map((m) => [m.id, m])), { last: marks.length }),
  };
}

function contextFor(results: () => Promise<unknown>): HandlerContext {
  return {
    jobId: 'done',
    type: 'summary',
    attempt: 1,
    rawPayload: '{}',
    params: {},
    log: silentLogger(),
    signal: new AbortController().signal,
    progress: () => undefined,
    group: { id: group._id, results: results as never },
  };
}

describe("a group's results and the built-in summary", () => {
  const at = new Date(1000);
  const ended: GroupMark[] = [
    { id: 'a', state: 'completed', at, result: { hash: 'x' } },
    { id: 'b', state: 'failed', at, error: 'boom' },
    { id: 'c', state: 'completed', at, resultOmitted: true },
  ];

  it('when every member has an outcome mark, then the group is done, in its own order, with counts', async () => {
    const results = await readGroupResults(storeWith(ended), 'g1');
    assert.ok(results);
    assert.equal(results.done, true);
    assert.deepEqual(results.counts, { completed: 2, failed: 1 });
    assert.deepEqual(
      results.jobs.map((job) => [job.id, job.state]),
      [
        ['a', 'completed'],
        ['b', 'failed'],
        ['c', 'completed'],
      ],
    );
    assert.equal(results.jobs[2]?.resultOmitted, true);
  });

  it('when a member has no mark, or a queued one after a retry, then the group is not done', async () => {
    const noMark = await readGroupResults(storeWith(ended.slice(0, 2)), 'g1');
    assert.equal(noMark?.done, false);
    assert.deepEqual(noMark?.counts, { completed: 1, failed: 1, unfinished: 1 });
    const retried = await readGroupResults(
      storeWith([...ended.slice(0, 2), { id: 'c', state: 'queued', at }]),
      'g1',
    );
    assert.equal(retried?.done, false);
    assert.equal(await readGroupResults(storeWith(ended), 'nope'), null);
  });

  it('when summary runs for a group, then it counts, lists the failures and digests every outcome in order', async () => {
    const results = await readGroupResults(storeWith(ended), 'g1');
    const answer = await summaryHandler(
      {},
      contextFor(async () => results),
    );
    const expected = createHash('md5')
      .update('a completed {"hash":"x"}\nb failed "boom"\nc completed null\n', 'utf8')
      .digest('hex');
    assert.deepEqual(answer, {
      group: 'g1',
      total: 3,
      counts: { completed: 2, failed: 1 },
      failed: [{ id: 'b', error: 'boom' }],
      digest: expected,
    });
  });

  it('when summary runs as a job of its own, then it fails: it has no group', async () => {
    const { group: _none, ...context } = contextFor(async () => null);
    await assert.rejects(summaryHandler({}, context), /on_complete/);
  });
});
