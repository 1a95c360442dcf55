/** Listing failed and cancelled jobs from their marks (manager/jobs/listing), over a stand-in store. */
import assert from 'node:assert/strict';
import { newJobId } from '../../../../../src/jobs/job-id.js';
import { parseListQuery } from '../../../../../src/manager/jobs/read/list-query.js';
import { createJobListing } from '../../../../../src/manager/jobs/read/listing.js';
import type { QueueSet } from '../../../../../src/queue/index.js';
import type { GroupMark, ResultDocument, Store } from '../../../../../src/store/index.js';

/**
 * `documents` marks documents of `failed` marks, numbered 1…documents, each holding `perDocument`
 * marks; `stale` of each document's marks name jobs whose outcome has changed since (retried),
 * the rest are still failed.
 */
function markedStore(documents: number, perDocument: number, stale: number) {
  const at = new Date('2026-11-30T12:00:00Z');
  const marks = new Map<number, GroupMark[]>();
  const results = new Map<string, ResultDocument>();
  for (let n = 1; n <= documents; n += 1) {
    const doc: GroupMark[] = [];
    for (let i = 0; i < perDocument; i += 1) {
      const id = newJobId();
      doc.push({ id, state: 'failed', at, type: 'hash' } as GroupMark);
      const outcome = i < stale ? 'completed' : 'failed';
      results.set(id, { _id: id, type: 'hash', outcome, finishedAt: at } as ResultDocument);
    }
    marks.set(n, doc);
  }
  const store = {
    lastStateMark: async () => documents,
    readStateMarks: async (_state: string, n: number) => marks.get(n) ?? null,
    findResult: async (id: string) => results.get(id) ?? null,
  };
  return createJobListing({ queue: {} as QueueSet, store: store as unknown as Store });
}

describe('listing failed jobs from their marks (manager/jobs/listing)', () => {
  it('when a page runs out of reads between two marks documents, then its cursor is one the next request accepts, and no job is skipped', async () => {
    // limit 1 → 10 reads a page: a document read and its 9 stale marks use them all up.
    const listing = markedStore(3, 10, 9);
    const seen: string[] = [];
    let cursor: string | null | undefined;
    for (let page = 0; page < 10 && cursor !== null; page += 1) {
      const query = parseListQuery({ state: 'failed', limit: '1', ...(cursor ? { cursor } : {}) });
      const answer = await listing.list(query);
      seen.push(...answer.jobs.map((job) => job.id));
      cursor = answer.nextCursor;
    }
    assert.equal(cursor, null, 'the walk reached the end');
    assert.equal(seen.length, 3, 'one still-failed job from each of the three documents');
    assert.equal(new Set(seen).size, 3, 'none twice');
  });
});
