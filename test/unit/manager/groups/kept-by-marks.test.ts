/** Answers kept until a group's next mark (manager/groups/kept-by-marks), over a stand-in for the marks. */
import assert from 'node:assert/strict';
import { KeptByMarks } from '../../../../src/manager/groups/kept-by-marks.js';

/** Groups' marks as numbers only: `marks.get(id)` is the last mark number written. */
function fixture(maxSize: number) {
  const marks = new Map<string, number>();
  const probes: string[] = [];
  const kept = new KeptByMarks<string>({
    store: {
      groupMarkExists: async (id: string, n: number) => {
        probes.push(`${id}#${n}`);
        return (marks.get(id) ?? 0) >= n;
      },
    },
    maxSize,
    sizeOf: (value) => value.length,
  });
  let builds = 0;
  const read = (id: string, keep = true) =>
    kept.get(id, async () => {
      builds += 1;
      const last = marks.get(id) ?? 0;
      return { value: `${id}@${last}`, last, keep };
    });
  return { marks, probes, read, builds: () => builds };
}

describe('answers kept by marks (manager/groups/kept-by-marks)', () => {
  it('when no mark follows the one an answer read, then it is served again after one probe; after a new mark it is built again', async () => {
    const f = fixture(1000);
    f.marks.set('g', 3);
    assert.equal(await f.read('g'), 'g@3');
    assert.equal(await f.read('g'), 'g@3');
    assert.equal(f.builds(), 1);
    assert.deepEqual(f.probes, ['g#4']);
    f.marks.set('g', 4);
    assert.equal(await f.read('g'), 'g@4');
    assert.equal(f.builds(), 2);
  });

  it('when a build says not to keep it, then the next read builds again', async () => {
    const f = fixture(1000);
    await f.read('g', false);
    await f.read('g', false);
    assert.equal(f.builds(), 2);
    assert.deepEqual(f.probes, [], 'nothing kept, nothing probed');
  });

  it('when the answers pass the budget, then the least recently used go first', async () => {
    // Each answer is 3 characters ("a@0"): four fit in 12 (and none larger than a quarter is kept).
    const f = fixture(12);
    for (const id of ['a', 'b', 'c', 'd']) await f.read(id);
    await f.read('a');
    await f.read('e');
    assert.equal(f.builds(), 5, 'a served again');
    await f.read('b');
    assert.equal(f.builds(), 6, 'b, the least recently used, was dropped for e');
    await f.read('a');
    assert.equal(f.builds(), 6, 'a was kept');
  });
});
