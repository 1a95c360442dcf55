/** A type's failed and buried jobs at once (manager/jobs/bulk-actions), over a stand-in store and queue. */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { encodeEnvelope } from '../../../../src/jobs/envelope.js';
import { newJobId } from '../../../../src/jobs/job-id.js';
import { silentLogger } from '../../../../src/log.js';
import { addSwept, createBulkActions, nextUnswept } from '../../../../src/manager/jobs/bulk-actions.js';
import { type QueueClient, type QueueSet, queueSetOf } from '../../../../src/queue/index.js';
import {
  type GroupMark,
  type ResultDocument,
  type Store,
  StoreUnavailableError,
  type SweptRange,
} from '../../../../src/store/index.js';

/** Failed marks documents numbered 1…, each a list of [job id, type]; every job still failed. */
function failedStore(documents: Array<Array<[string, string]>>) {
  const at = new Date('2026-11-30T12:00:00Z');
  const results = new Map<string, ResultDocument>();
  const marks = documents.map((doc) =>
    doc.map(([id, type]) => {
      results.set(id, { _id: id, type, outcome: 'failed', finishedAt: at } as ResultDocument);
      return { id, state: 'failed', at, type } as GroupMark;
    }),
  );
  let swept: SweptRange[] = [];
  const reads: number[] = [];
  const store = {
    lastStateMark: async () => marks.length,
    readStateMarks: async (_state: string, n: number) => {
      reads.push(n);
      return marks[n - 1] ?? null;
    },
    findResult: async (id: string) => results.get(id) ?? null,
    findSweptMarks: async () => swept,
    saveSweptMarks: async (_type: string, ranges: SweptRange[]) => {
      swept = ranges;
    },
  };
  const retried: string[] = [];
  const retry = async (id: string) => {
    retried.push(id);
    results.delete(id);
  };
  return { store: store as unknown as Store, retried, reads, retry, results };
}

const noQueue = {} as QueueSet;
/** One fake server as the set the bulk actions take. */
const oneServer = (client: QueueClient): QueueSet => queueSetOf({ clients: [client], goneAfterMs: 60_000 });

describe('steering a type’s failed and buried jobs (manager/jobs/bulk-actions)', () => {
  it('when walked ranges are added, then they merge, stay highest first, and the next unwalked number skips them', () => {
    let ranges = addSwept([], 5, 9);
    ranges = addSwept(ranges, 1, 2);
    assert.deepEqual(ranges, [
      { from: 5, to: 9 },
      { from: 1, to: 2 },
    ]);
    assert.equal(nextUnswept(ranges, 12), 12);
    assert.equal(nextUnswept(ranges, 9), 4);
    assert.equal(nextUnswept(ranges, 2), 0);
    ranges = addSwept(ranges, 3, 4);
    assert.deepEqual(ranges, [{ from: 1, to: 9 }]);
    assert.equal(nextUnswept(ranges, 9), 0);
    assert.deepEqual(addSwept(ranges, 10, 9), ranges, 'an empty range adds nothing');
    const many = Array.from({ length: 40 }, (_, k) => k * 3 + 1).reduce<SweptRange[]>(
      (all, n) => addSwept(all, n, n),
      [],
    );
    assert.equal(many.length, 32, 'at most 32 kept');
    assert.equal(many[0]?.to, 118, 'the highest kept');
  });

  it('when failed marks share a document, then the newest of them is retried first, and the limit stops mid-document without losing the rest', async () => {
    const [x, y, z, other] = [newJobId(), newJobId(), newJobId(), newJobId()];
    // One document, written oldest first: x, then the other type's job, then y, then z.
    const s = failedStore([
      [
        [x, 'simulate'],
        [other, 'hash'],
        [y, 'simulate'],
        [z, 'simulate'],
      ],
    ]);
    const bulk = createBulkActions({
      queue: noQueue,
      store: s.store,
      log: silentLogger(),
      tubePrefix: 't.',
      retry: s.retry,
    });
    assert.deepEqual(await bulk.retryFailed('simulate', 2), { retried: 2, skipped: 0, more: true });
    assert.deepEqual(s.retried, [z, y]);
    assert.deepEqual(await bulk.retryFailed('simulate', 2), { retried: 1, skipped: 0, more: false });
    assert.deepEqual(s.retried, [z, y, x]);
    assert.equal(s.results.get(other)?.outcome, 'failed', 'another type’s job is left alone');
    s.reads.length = 0;
    assert.deepEqual(await bulk.retryFailed('simulate', 2), { retried: 0, skipped: 0, more: false });
    assert.deepEqual(s.reads, [], 'walked to the end: no mark read again');
  });

  it('when a call runs out of reads among other types’ marks, then the next call goes on below, not from the top again', async () => {
    const mine = newJobId();
    // Ten documents of another type above the one failed job of ours.
    const s = failedStore([
      [[mine, 'simulate']],
      ...Array.from({ length: 10 }, (): Array<[string, string]> => [[newJobId(), 'hash']]),
    ]);
    const bulk = createBulkActions({
      queue: noQueue,
      store: s.store,
      log: silentLogger(),
      tubePrefix: 't.',
      retry: s.retry,
    });
    // limit 1: ten reads (a document and its outcome reads each).
    assert.deepEqual(await bulk.retryFailed('simulate', 1), { retried: 0, skipped: 0, more: true });
    const first = [...s.reads];
    s.reads.length = 0;
    assert.deepEqual(await bulk.retryFailed('simulate', 1), { retried: 1, skipped: 0, more: false });
    assert.deepEqual(s.retried, [mine]);
    assert.equal(
      new Set([...first, ...s.reads]).size,
      first.length + s.reads.length,
      'no document read twice',
    );
  });

  it('when the store fails midway, then the call fails with that error, the log says how many were retried, and nothing is marked walked', async () => {
    const ids = [newJobId(), newJobId(), newJobId()];
    const s = failedStore(ids.map((id): Array<[string, string]> => [[id, 'simulate']]));
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    let calls = 0;
    const retry = async (id: string) => {
      calls += 1;
      if (calls === 2) throw new StoreUnavailableError('MongoDB went away');
      await s.retry(id);
    };
    const bulk = createBulkActions({ queue: noQueue, store: s.store, log, tubePrefix: 't.', retry });
    await assert.rejects(bulk.retryFailed('simulate', 10), StoreUnavailableError);
    const warned = lines.find((line) => line.level === 40);
    assert.ok(warned, JSON.stringify(lines));
    assert.equal(warned.retried, 1);
    assert.equal(warned.type, 'simulate');
    assert.deepEqual(await s.store.findSweptMarks('simulate'), []);
    // The next call finds the two still failed.
    assert.deepEqual(await bulk.retryFailed('simulate', 10), { retried: 2, skipped: 0, more: false });
  });

  it('when a kicked copy is buried again at once, then the kick stops there instead of kicking it round and round', async () => {
    const s = failedStore([]);
    let kicks = 0;
    const queue = {
      server: 'b:1',
      statsTube: async () => ({ currentJobsBuried: 1 }),
      // A worker that buries the body again before the next peek.
      peekBuried: async () => ({ id: '7', body: 'not ours' }),
      kickJob: async () => {
        kicks += 1;
      },
    } as unknown as QueueClient;
    const bulk = createBulkActions({
      queue: oneServer(queue),
      store: s.store,
      log: silentLogger(),
      tubePrefix: 't.',
      retry: s.retry,
    });
    assert.deepEqual(await bulk.kickBuried('simulate', 1000), {
      retried: 0,
      skipped: 0,
      kicked: 1,
      removed: 0,
      more: false,
    });
    assert.equal(kicks, 1);
  });

  it('when a buried copy names a job that has another copy, then it is deleted, not kicked', async () => {
    const id = newJobId();
    const s = failedStore([]);
    const deleted: string[] = [];
    let buried = [{ id: '8', body: encodeEnvelope({ id, type: 'simulate', payload: '{}', maxAttempts: 1 }) }];
    const queue = {
      server: 'b:1',
      statsTube: async () => ({ currentJobsBuried: buried.length }),
      peekBuried: async () => buried[0] ?? null,
      deleteJob: async (beanstalkId: string) => {
        deleted.push(beanstalkId);
        buried = buried.filter((copy) => copy.id !== beanstalkId);
      },
      kickJob: async () => assert.fail('not kicked'),
    } as unknown as QueueClient;
    const store = {
      ...(s.store as unknown as Record<string, unknown>),
      findResult: async () => null,
      findJob: async () => ({ _id: id, queue: { server: 'b:1', beanstalkId: '9' } }),
      findQueueRef: async () => null,
    } as unknown as Store;
    const bulk = createBulkActions({
      queue: oneServer(queue),
      store,
      log: silentLogger(),
      tubePrefix: 't.',
      retry: s.retry,
    });
    const answer = await bulk.kickBuried('simulate', 10);
    assert.deepEqual(answer, { retried: 0, skipped: 0, kicked: 0, removed: 1, more: false });
    assert.deepEqual(deleted, ['8']);
  });
});
