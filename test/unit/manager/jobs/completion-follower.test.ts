/** How a manager follows the tallies' completion notices (manager/jobs/completion-follower), over a stand-in store. */
import assert from 'node:assert/strict';
import { silentLogger } from '../../../../src/log.js';
import {
  CompletionFollower,
  type FollowedEvent,
  type FollowerOptions,
} from '../../../../src/manager/jobs/completion-follower.js';
import type { LogSegment, NoticeDocument, NoticeEvent, TallyDocument } from '../../../../src/store/index.js';
import { waitFor } from '../../../support/harness.js';

const at = new Date('2026-11-30T12:00:00Z');

/** Tallies with the notice number each has sealed, and their notices by "tally:n". */
function noticeBoard() {
  const sealed = new Map<string, number>();
  const notices = new Map<string, NoticeDocument>();
  const segments = new Map<number, LogSegment>();
  let reads = 0;
  const store: FollowerOptions['store'] = {
    listTallies: async () => [...sealed].map(([id, n]) => ({ _id: id, notices: n }) as TallyDocument),
    findTally: async (id) => {
      reads += 1;
      const n = sealed.get(id);
      return n === undefined ? null : ({ _id: id, notices: n } as TallyDocument);
    },
    findNotice: async (tally, n) => notices.get(`${tally}:${n}`) ?? null,
    log: {
      readLogMeta: async () => ({
        _id: 'meta',
        floor: 1,
        deletedBelow: 1,
        settledThrough: 0,
        retainedThrough: 0,
        keysSweptThrough: 0,
      }),
      logHead: async () => Math.max(0, ...segments.keys()),
      readSegment: async (n) => segments.get(n) ?? null,
    },
  };
  return {
    store,
    reads: () => reads,
    /** Writes notice n of `tally` naming `ids` (and `events`); `seal` also moves the tally past it. */
    write(tally: string, n: number, ids: string[], seal = true, events?: NoticeEvent[]) {
      notices.set(`${tally}:${n}`, {
        _id: `${tally}:${n}`,
        tally,
        n,
        at,
        entries: ids.map((id) => ({ id, state: 'completed' as const, at, type: 'hash' })),
        ...(events ? { events } : {}),
      });
      if (seal) sealed.set(tally, n);
    },
    seal(tally: string, n: number) {
      sealed.set(tally, n);
    },
    /** Appends job-log segment n naming `ids` (accepted jobs). */
    append(n: number, ids: string[], group?: string) {
      segments.set(n, {
        _id: String(n),
        n,
        jobs: ids.map((id) => ({ id, type: 'hash', at, ...(group ? { group } : {}) })),
        first: at,
        last: at,
        token: 't',
        appendedAt: at,
      });
    },
  };
}

/** A follower over `board`, reading every 5 ms, with `options` beside. */
const follower = (
  board: ReturnType<typeof noticeBoard>,
  maxWaiters = 10,
  options: Pick<FollowerOptions, 'relaxedPollMs' | 'maxRelaxed'> = {},
) =>
  new CompletionFollower({
    store: board.store,
    log: silentLogger(),
    pollMs: 5,
    listMs: 20,
    maxWaiters,
    ...options,
  });

describe('following completion notices (manager/jobs/completion-follower)', () => {
  it('when a sealed notice names the job, then its waiter wakes; one written but not yet sealed does not wake it', async () => {
    const board = noticeBoard();
    board.seal('w#1', 3);
    const f = follower(board);
    const wait = await f.register('job-x', 5000);
    assert.ok(wait);
    board.write('w#1', 4, ['job-x'], false);
    const readsBefore = board.reads();
    await waitFor('two more reads of the tally', () => board.reads() >= readsBefore + 2, 2000, 1);
    assert.equal(f.waiting, 1, 'not sealed: not read, still waiting');
    board.seal('w#1', 4);
    assert.equal(await wait.until, 'ended');
    assert.equal(f.waiting, 0);
  });

  it('when a process starts after the follower, then its notices are read from the first', async () => {
    const board = noticeBoard();
    board.seal('w#1', 0);
    const f = follower(board);
    const wait = await f.register('job-y', 5000);
    board.write('w#2', 1, ['job-y']);
    assert.equal(await wait?.until, 'ended');
  });

  it('when a notice slot holds another (a whole ring behind), then it is skipped and later ones still wake', async () => {
    const board = noticeBoard();
    board.seal('w#1', 0);
    const f = follower(board);
    const wait = await f.register('job-z', 5000);
    board.seal('w#1', 1); // notice 1 is gone
    board.write('w#1', 2, ['job-z']);
    assert.equal(await wait?.until, 'ended');
  });

  it('when the deadline passes or the client leaves, then the wait ends so, and an idle follower reads nothing', async () => {
    const board = noticeBoard();
    board.seal('w#1', 0);
    const f = follower(board, 2);
    const timing = await f.register('a', 50);
    const leaving = new AbortController();
    const left = await f.register('b', 5000, leaving.signal);
    assert.equal(await f.register('c', 5000), null, 'past MAX_WAITERS');
    leaving.abort();
    assert.equal(await left?.until, 'aborted');
    assert.equal(await timing?.until, 'timeout');
    assert.equal(f.waiting, 0);
    assert.equal(f.following, false, 'nobody waits: the follower holds no timer and reads nothing');
  });

  it('when the manager stops (close), then every wait ends now as at its deadline, and a later one at once', async () => {
    const board = noticeBoard();
    board.seal('w#1', 0);
    const f = follower(board);
    const first = await f.register('a', 60_000);
    const second = await f.register('b', 60_000);
    assert.equal(f.waiting, 2);
    assert.equal(f.closed, false);
    f.close();
    assert.equal(f.closed, true);
    assert.deepEqual(await Promise.all([first?.until, second?.until]), ['timeout', 'timeout']);
    assert.equal(f.waiting, 0);
    assert.equal(f.following, false, 'nobody waits: the follower holds no timer');
    const later = await f.register('c', 60_000);
    assert.equal(await later?.until, 'timeout');
    assert.equal(f.waiting, 0);
  });

  it('when only relaxed waits wait, then the tallies are read at the relaxed pace', async () => {
    const board = noticeBoard();
    board.seal('w#1', 0);
    const f = follower(board, 10, { relaxedPollMs: 300 });
    const parent = await f.register('parent', 10_000, undefined, 'relaxed');
    assert.ok(parent);
    assert.equal(f.waiting, 0, 'a relaxed wait is not a waiting request');
    assert.equal(f.waitingRelaxed, 1);
    const before = board.reads();
    const started = Date.now();
    await waitFor('two reads of the tally', () => board.reads() >= before + 2, 3000, 1);
    assert.ok(
      Date.now() - started >= 500,
      `two relaxed reads took ${Date.now() - started} ms (300 ms apart)`,
    );
    board.write('w#1', 1, ['parent']);
    assert.equal(await parent.until, 'ended');
    assert.equal(f.waitingRelaxed, 0);
    assert.equal(f.following, false);
  });

  it('when a request registers while only relaxed waits wait, then it is read at the prompt pace, not at the relaxed timer', async () => {
    const board = noticeBoard();
    board.seal('w#1', 0);
    const f = follower(board, 10, { relaxedPollMs: 20_000 });
    const parent = await f.register('parent', 30_000, undefined, 'relaxed');
    const request = await f.register('job-r', 30_000);
    const written = Date.now();
    board.write('w#1', 1, ['job-r']);
    assert.equal(await request?.until, 'ended');
    assert.ok(
      Date.now() - written < 10_000,
      `woke ${Date.now() - written} ms after its notice (relaxed: 20 s)`,
    );
    parent?.cancel();
    assert.equal(f.following, false);
  });

  it('when relaxed waits are full, then a relaxed registration is refused while requests still register, and the other way round', async () => {
    const board = noticeBoard();
    board.seal('w#1', 0);
    const f = follower(board, 1, { maxRelaxed: 2 });
    const relaxed = [
      await f.register('a', 5000, undefined, 'relaxed'),
      await f.register('b', 5000, undefined, 'relaxed'),
    ];
    assert.equal(await f.register('c', 5000, undefined, 'relaxed'), null, 'past maxRelaxed');
    const request = await f.register('d', 5000);
    assert.ok(request, 'requests have their own bound');
    assert.equal(await f.register('e', 5000), null, 'past MAX_WAITERS');
    relaxed[0]?.cancel();
    const again = await f.register('c', 5000, undefined, 'relaxed');
    assert.ok(again, 'a relaxed wait registers while requests are full');
    for (const wait of [again, relaxed[1], request]) wait?.cancel();
    assert.equal(f.waiting + f.waitingRelaxed, 0);
    assert.equal(f.following, false);
  });

  it('when someone listens, then it hears accepts from the job log and the starts and progress before its ends, in order', async () => {
    const board = noticeBoard();
    board.seal('w#1', 0);
    board.append(1, ['old']);
    const f = follower(board);
    const heard: FollowedEvent[] = [];
    let gaps = 0;
    const stop = await f.subscribe({ events: (batch) => heard.push(...batch), gap: () => (gaps += 1) });
    board.append(2, ['a', 'b'], 'g1');
    board.write('w#1', 1, ['a'], true, [
      { id: 'a', kind: 'started', at, type: 'hash', group: 'g1', attempt: 1 },
      {
        id: 'a',
        kind: 'progress',
        at,
        type: 'hash',
        group: 'g1',
        attempt: 1,
        percent: 50,
        data: { step: 2 },
      },
    ]);
    await waitFor('four events', () => heard.length >= 4, 2000, 1);
    assert.deepEqual(
      heard.map((e) => `${e.kind}:${e.id}`).filter((k) => !k.startsWith('accepted')),
      ['started:a', 'progress:a', 'completed:a'],
    );
    assert.deepEqual(
      heard.filter((e) => e.kind === 'accepted').map((e) => `${e.id}:${e.group}`),
      ['a:g1', 'b:g1'],
      'accepts since the subscription only, with their group',
    );
    assert.deepEqual(heard.find((e) => e.kind === 'progress')?.data, { step: 2 });
    // Notice 2 overwritten before it was read: listeners hear of the gap.
    board.seal('w#1', 2);
    await waitFor('a gap', () => gaps === 1, 2000, 1);
    stop();
    assert.equal(f.following, false, 'the last listener gone: the follower stops');
  });
});
