/** Listing groups from the group index (manager/groups/group-list), over a stand-in store that counts its reads. */
import assert from 'node:assert/strict';
import { newJobId } from '../../../../src/jobs/job-id.js';
import { createGroupListing, parseGroupListQuery } from '../../../../src/manager/groups/group-list.js';
import type { GroupDocument, GroupMark, Store } from '../../../../src/store/index.js';

/**
 * A group index built from `layout`, oldest first: each entry one marks document, listing group
 * names as they were indexed. A name ending in `?` was indexed but never stored (its fan-out
 * accepted nothing). Reads of index documents and group documents are counted.
 */
function indexedStore(layout: string[][]) {
  const ids = new Map<string, string>();
  const documents = new Map<string, GroupDocument>();
  const index = layout.map((names) =>
    names.map((name): GroupMark => {
      const id = newJobId();
      ids.set(name, id);
      if (!name.endsWith('?')) {
        documents.set(id, {
          _id: id,
          type: 'hash',
          total: 1,
          axes: {},
          excluded: 0,
          createdAt: new Date(),
          jobs: [{ id: newJobId(), combination: {} }],
        });
      }
      return { id, state: 'queued', at: new Date(), type: 'hash' };
    }),
  );
  const reads = { index: 0, groups: 0 };
  const store = {
    lastGroupIndex: async () => index.length,
    readGroupIndex: async (n: number) => {
      reads.index += 1;
      return index[n - 1] ?? null;
    },
    findGroup: async (id: string) => {
      reads.groups += 1;
      return documents.get(id) ?? null;
    },
    readGroupMarks: async () => Object.assign(new Map(), { last: 0 }),
    // No mark is ever added: a summary this listing keeps stays good.
    groupMarkExists: async () => false,
  };
  const name = (id: string) => [...ids].find(([, g]) => g === id)?.[0];
  return { listing: createGroupListing({ store: store as unknown as Store }), reads, name, index };
}

/** Every page from the top with `limit`, the reads each made, and the group names in order. */
async function pageThrough(fixture: ReturnType<typeof indexedStore>, limit: number) {
  const names: string[] = [];
  const readsPerPage: number[] = [];
  let cursor: string | null | undefined;
  for (let page = 0; page < 1000 && cursor !== null; page += 1) {
    const before = fixture.reads.index + fixture.reads.groups;
    const answer = await fixture.listing.list(
      parseGroupListQuery({ limit: String(limit), ...(cursor ? { cursor } : {}) }),
    );
    readsPerPage.push(fixture.reads.index + fixture.reads.groups - before);
    names.push(...answer.groups.map((group) => fixture.name(group.id) ?? '?'));
    cursor = answer.nextCursor;
  }
  return { names, readsPerPage, ended: cursor === null };
}

describe('listing groups from the group index (manager/groups/group-list)', () => {
  it('when groups are indexed over several documents, then paging lists each once, newest first, leaving out those never stored', async () => {
    const fixture = indexedStore([['a', 'b'], ['c'], ['d?', 'e', 'f'], ['g']]);
    for (const limit of [1, 2, 3, 20]) {
      const { names, ended } = await pageThrough(fixture, limit);
      assert.ok(ended, `limit ${limit}: the walk reached the end`);
      assert.deepEqual(names, ['g', 'f', 'e', 'c', 'b', 'a'], `limit ${limit}: newest first, each once`);
    }
  });

  it('when groups are indexed while a client pages, then the new ones land above its cursor and the pages do not shift', async () => {
    const fixture = indexedStore([['a', 'b', 'c', 'd']]);
    const first = await fixture.listing.list(parseGroupListQuery({ limit: '2' }));
    assert.deepEqual(
      first.groups.map((g) => fixture.name(g.id)),
      ['d', 'c'],
    );
    fixture.index.push([{ id: newJobId(), state: 'queued', at: new Date() }]);
    const second = await fixture.listing.list(
      parseGroupListQuery({ limit: '2', cursor: first.nextCursor as string }),
    );
    assert.deepEqual(
      second.groups.map((g) => fixture.name(g.id)),
      ['b', 'a'],
    );
  });

  it('when the index is long, then a page reads a few documents, whatever the history below it', async () => {
    const fixture = indexedStore(Array.from({ length: 500 }, (_, k) => [`g${k}a`, `g${k}b`, `g${k}c`]));
    const answer = await fixture.listing.list(parseGroupListQuery({ limit: '20' }));
    assert.equal(answer.groups.length, 20);
    assert.equal(fixture.reads.index, 7, 'seven index documents of three groups each');
    assert.equal(fixture.reads.groups, 20, 'one summary read per group listed');
  });

  it('when every indexed group is missing, then a page stops at its read bound with a cursor that goes on', async () => {
    const fixture = indexedStore(Array.from({ length: 100 }, (_, k) => [`lost${k}?`]));
    const { names, readsPerPage, ended } = await pageThrough(fixture, 2);
    assert.ok(ended);
    assert.deepEqual(names, []);
    assert.ok(
      readsPerPage.every((reads) => reads <= 2 * 10 + 2),
      `at most ten reads per group asked for: ${readsPerPage.join(', ')}`,
    );
  });

  it('when the limit or cursor is bad, then it is INVALID_QUERY before anything is read', () => {
    for (const query of [
      { limit: '0' },
      { limit: '101' },
      { limit: 'x' },
      { cursor: 'abc' },
      { cursor: '1.2.3' },
      { nope: '1' },
      { limit: ['5', '6'] },
    ]) {
      assert.throws(() => parseGroupListQuery(query), { code: 'INVALID_QUERY' }, JSON.stringify(query));
    }
    assert.deepEqual(parseGroupListQuery({}), { limit: 20 });
    assert.deepEqual(parseGroupListQuery({ limit: '100', cursor: '7.3' }), {
      limit: 100,
      cursor: { n: 7, index: 3 },
    });
  });
});
