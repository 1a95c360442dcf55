/**
 * A group's completion job woken near its group's end (manager/background/parent-wakes.ts,
 * wakeOnGroupEnd), over a stand-in follower, group store and beanstalkd: it follows the last
 * open members, reads the group's marks once they have all ended (again, while the last mark
 * trails its end's notice), and kicks the waiter only when the marks say the group is done.
 */
import assert from 'node:assert/strict';
import { encodeEnvelope } from '../../../../src/jobs/envelope.js';
import { silentLogger } from '../../../../src/log.js';
import {
  createParentWakes,
  GROUP_WAKE_OPEN_AT_MOST,
} from '../../../../src/manager/background/parent-wakes.js';
import type { QueueSet } from '../../../../src/queue/index.js';
import type { GroupMark, Groups } from '../../../../src/store/index.js';

type End = 'ended' | 'timeout';

/** Stand-ins: `ends` the follower answers per member (absent: refused, the follower is full). */
function setup(options: {
  members: string[];
  ends: Map<string, End>;
  marksDoneAtRead: number;
  /** What beanstalkd holds under the waiter's id (default: the completion job's waiter, delayed). */
  held?: { id: string; waiting: boolean; state: string };
}) {
  const { members, ends } = options;
  let marksRead = 0;
  const kicked: string[] = [];
  const registered: string[] = [];
  const cancelled: string[] = [];
  const follower = {
    register: async (id: string) => {
      const end = ends.get(id);
      if (end === undefined) return null;
      registered.push(id);
      return { until: Promise.resolve(end), cancel: () => cancelled.push(id) };
    },
  };
  const store = {
    findGroup: async () => ({
      _id: 'g',
      type: 'hash',
      total: members.length,
      jobs: members.map((id) => ({ id, combination: {} })),
    }),
    // Every member marked completed from the `marksDoneAtRead`-th read on; the last one missing before.
    readGroupMarks: async () => {
      marksRead += 1;
      const done = marksRead >= options.marksDoneAtRead;
      const marks = new Map<string, GroupMark>();
      for (const [i, id] of members.entries()) {
        if (done || i < members.length - 1)
          marks.set(id, { id, state: 'completed', at: new Date() } as GroupMark);
      }
      return marks;
    },
  };
  const held = options.held ?? { id: 'completion', waiting: true, state: 'delayed' };
  const client = {
    inspectJob: async (beanstalkId: string) => ({
      body: encodeEnvelope({
        id: held.id,
        type: 'summary',
        payload: '{}',
        maxAttempts: 1,
        ...(held.waiting ? { waiting: true } : {}),
      }),
      stats: { id: beanstalkId, state: held.state },
    }),
    kickJob: async (beanstalkId: string) => {
      kicked.push(beanstalkId);
    },
  };
  const wakes = createParentWakes({
    queue: { at: () => client } as unknown as QueueSet,
    follower: follower as never,
    store: store as unknown as Pick<Groups, 'findGroup' | 'readGroupMarks'>,
    tubePrefix: 't_',
    stopping: () => false,
  });
  const wake = (open: string[]) =>
    wakes.wakeOnGroupEnd('completion', { server: 's', beanstalkId: '7' }, 'g', open, 5, silentLogger());
  return { wake, kicked, registered, cancelled, marksRead: () => marksRead };
}

describe("a group's completion job woken near its group's end (parent-wakes.ts)", () => {
  it('when the last members end but the last mark trails, then the marks are read again until done, and the waiter is kicked once', async () => {
    const members = ['a', 'b', 'c'];
    const s = setup({
      members,
      ends: new Map<string, End>([
        ['b', 'ended'],
        ['c', 'ended'],
      ]),
      marksDoneAtRead: 3,
    });
    await s.wake(['b', 'c']);
    assert.deepEqual(s.registered, ['b', 'c']);
    assert.equal(s.marksRead(), 3, 'read at once, then after 100 and 250 ms');
    assert.deepEqual(s.kicked, ['7']);
  });

  it('when the marks never say done, then nothing is kicked (the next look decides)', async () => {
    const s = setup({
      members: ['a', 'b'],
      ends: new Map<string, End>([['b', 'ended']]),
      marksDoneAtRead: 99,
    });
    await s.wake(['b']);
    assert.equal(s.marksRead(), 5, 'five reads over about two seconds');
    assert.deepEqual(s.kicked, []);
  });

  it('when a member’s wait times out, then the marks are not read and nothing is kicked', async () => {
    const s = setup({
      members: ['a', 'b', 'c'],
      ends: new Map<string, End>([
        ['b', 'ended'],
        ['c', 'timeout'],
      ]),
      marksDoneAtRead: 1,
    });
    await s.wake(['b', 'c']);
    assert.equal(s.marksRead(), 0);
    assert.deepEqual(s.kicked, []);
  });

  it('when the follower cannot take every member, then the ones it took are let go and nothing is kicked', async () => {
    // 'c' is refused: the follower is full.
    const s = setup({
      members: ['a', 'b', 'c'],
      ends: new Map<string, End>([['b', 'ended']]),
      marksDoneAtRead: 1,
    });
    await s.wake(['b', 'c']);
    assert.deepEqual(s.cancelled, ['b']);
    assert.equal(s.marksRead(), 0);
    assert.deepEqual(s.kicked, []);
  });

  it('when more members are open than it follows, then none is registered', async () => {
    const open = Array.from({ length: GROUP_WAKE_OPEN_AT_MOST + 1 }, (_, i) => `m${i}`);
    const s = setup({
      members: open,
      ends: new Map(open.map((id) => [id, 'ended' as End])),
      marksDoneAtRead: 1,
    });
    await s.wake(open);
    assert.deepEqual(s.registered, []);
    assert.deepEqual(s.kicked, []);
  });

  it('when the waiter’s beanstalkd id now names another job, or a copy not waiting out its delay, then nothing is kicked', async () => {
    // Ids repeat after beanstalkd restarts without its binlog: a kick could start another job early.
    for (const held of [
      { id: 'another-job', waiting: true, state: 'delayed' },
      { id: 'completion', waiting: false, state: 'delayed' },
      { id: 'completion', waiting: true, state: 'reserved' },
      { id: 'completion', waiting: true, state: 'buried' },
    ]) {
      const s = setup({
        members: ['a', 'b'],
        ends: new Map<string, End>([['b', 'ended']]),
        marksDoneAtRead: 1,
        held,
      });
      await s.wake(['b']);
      assert.equal(s.marksRead(), 1, 'the group was done');
      assert.deepEqual(s.kicked, [], JSON.stringify(held));
    }
  });
});
