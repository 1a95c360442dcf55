/**
 * The job log's type directory, built by the maintenance step (manager/background/type-index.ts)
 * and used by a walk for one type (manager/jobs/read/log-walk.ts, type-skip.ts), over a job log
 * kept in memory: a walk for a type must meet exactly the entries a plain walk keeps for it.
 */
import assert from 'node:assert/strict';
import { indexLogTypes } from '../../../../../src/manager/background/type-index.js';
import type { LogPosition } from '../../../../../src/manager/jobs/read/list-query.js';
import { walkLog } from '../../../../../src/manager/jobs/read/log-walk.js';
import type { JobLog } from '../../../../../src/store/index.js';
import { memoryLog } from './memory-log.js';

/** Every entry a walk meets, as `n.index id`, and the documents it read. */
async function walkAll(
  log: JobLog,
  reads: { segments: number; directories: number },
  type: string,
  options: { useDirectory: boolean; cursor?: LogPosition; want?: number },
) {
  const before = reads.segments + reads.directories;
  const walk = await walkLog(log, {
    ...(options.useDirectory ? { type } : {}),
    ...(options.cursor ? { cursor: options.cursor } : {}),
  });
  const met: string[] = [];
  for (let rounds = 0; !walk.ended; rounds += 1) {
    assert.ok(rounds < 10_000, 'the walk ends');
    for (const c of await walk.next((entry) => entry.type === type, options.want))
      met.push(`${c.n}.${c.index} ${c.entry.id}`);
  }
  return { met, read: reads.segments + reads.directories - before, counted: walk.reads };
}

/** Types: `common` in most segments, `rare` in segments 7, 150 and 151, `once` in 299 only. */
const typeOf = (n: number, i: number) =>
  i === 0 && (n === 7 || n === 150 || n === 151) ? 'rare' : i === 2 && n === 299 ? 'once' : 'common';

describe('the type directory of the job log (type-index.ts, type-skip.ts)', () => {
  it('when a walk asks for one type, then it meets exactly the entries a plain walk keeps, and a rare type costs a few reads', async () => {
    const m = memoryLog(300, typeOf);
    // fanout 4: a level-1 block is 4 segments, a level-2 block 16.
    for (
      let pass = 0;
      pass < 20 && (await indexLogTypes(m.log, { fanout: 4, maxReads: 40 })).behind;
      pass += 1
    );
    const meta = await m.log.readLogMeta();
    assert.deepEqual(meta.typeIndex, { fanout: 4, through: [300, 288] });
    // Newer segments than the directories reach are read as a plain walk would.
    for (let n = 301; n <= 305; n += 1) m.append(n);
    for (const type of ['common', 'rare', 'once', 'absent']) {
      const plain = await walkAll(m.log, m.reads, type, { useDirectory: false });
      const skipping = await walkAll(m.log, m.reads, type, { useDirectory: true });
      assert.deepEqual(skipping.met, plain.met, `${type}: the same entries in the same order`);
      assert.equal(skipping.counted, skipping.read, `${type}: the walk counts every document it read`);
      // A walk that says how many entries it wants reads fewer segments at a time, not others.
      const wanting = await walkAll(m.log, m.reads, type, { useDirectory: true, want: 5 });
      assert.deepEqual(wanting.met, plain.met, `${type} (want 5): the same entries in the same order`);
      assert.equal(wanting.counted, wanting.read, `${type} (want 5): every document read is counted`);
    }
    const rare = await walkAll(m.log, m.reads, 'rare', { useDirectory: true });
    assert.equal(rare.met.length, 3);
    // 5 unindexed segments, 3 that hold it, and some 30 directories, against 305 segments.
    assert.ok(rare.read < 60, `a rare type reads ${rare.read} documents`);
  });

  it('when a walk goes on from cursors, then each part meets what the plain walk meets from there', async () => {
    const m = memoryLog(300, typeOf);
    for (
      let pass = 0;
      pass < 20 && (await indexLogTypes(m.log, { fanout: 4, maxReads: 400 })).behind;
      pass += 1
    );
    for (const cursor of [
      { n: 151, index: 1 },
      { n: 151, index: 0 },
      { n: 152, index: 2 },
      { n: 100, index: 3 },
      { n: 8, index: 1 },
      { n: 299, index: 1 },
      // Its own segment holds neither type: the index must not bound the segment skipped to.
      { n: 300, index: 1 },
    ]) {
      for (const type of ['rare', 'once']) {
        const plain = await walkAll(m.log, m.reads, type, { useDirectory: false, cursor });
        const skipping = await walkAll(m.log, m.reads, type, { useDirectory: true, cursor });
        assert.deepEqual(skipping.met, plain.met, `${type} from ${cursor.n}.${cursor.index}`);
      }
    }
  });

  it('when the head is inside a block, then that block gets its directory only once the head passes it', async () => {
    const m = memoryLog(10, typeOf);
    await indexLogTypes(m.log, { fanout: 4 });
    assert.deepEqual((await m.log.readLogMeta()).typeIndex, { fanout: 4, through: [8, 0] });
    assert.deepEqual([...m.directories.keys()].sort(), ['1:0', '1:1']);
    for (let n = 11; n <= 16; n += 1) m.append(n);
    const report = await indexLogTypes(m.log, { fanout: 100 });
    assert.equal(report.blocks, 3, 'two level-1 blocks and the level-2 block they complete');
    assert.deepEqual(
      (await m.log.readLogMeta()).typeIndex,
      { fanout: 4, through: [16, 16] },
      'the fanout stays',
    );
    assert.deepEqual(
      m.directories.get('2:0')?.get('rare'),
      new Set([1]),
      'level 2 names the level-1 block of segment 7',
    );
  });

  it('when the floor has risen past blocks, then none is built below it and walks stop at it', async () => {
    const m = memoryLog(200, typeOf);
    for (
      let pass = 0;
      pass < 20 && (await indexLogTypes(m.log, { fanout: 4, maxReads: 400 })).behind;
      pass += 1
    );
    m.raiseFloor(120);
    for (const type of ['rare', 'common']) {
      const plain = await walkAll(m.log, m.reads, type, { useDirectory: false });
      const skipping = await walkAll(m.log, m.reads, type, { useDirectory: true });
      assert.deepEqual(skipping.met, plain.met, type);
    }
    const fresh = memoryLog(200, typeOf);
    fresh.raiseFloor(120);
    await indexLogTypes(fresh.log, { fanout: 4, maxReads: 10_000 });
    const built = [...fresh.directories.keys()]
      .filter((key) => key.startsWith('1:'))
      .map((key) => Number(key.slice(2)));
    assert.equal(Math.min(...built), 29, 'the first level-1 block is the floor’s (segments 117–120)');
  });

  it('when a pass has more blocks to build than its reads allow, then it stops after a whole block and says it is behind', async () => {
    const m = memoryLog(100, typeOf);
    const first = await indexLogTypes(m.log, { fanout: 4, maxReads: 10 });
    assert.deepEqual(first, { blocks: 2, behind: true });
    assert.deepEqual((await m.log.readLogMeta()).typeIndex?.through, [8, 0]);
  });
});
