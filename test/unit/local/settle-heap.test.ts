import assert from 'node:assert/strict';
import { constants, type NodeGCPerformanceDetail, PerformanceObserver } from 'node:perf_hooks';
import { settleHeap } from '../../../src/local/settle-heap.js';
import { waitFor } from '../../support/harness.js';

describe('the heap settled after start (settle-heap)', () => {
  it('when it runs, then V8 makes a full collection, and gc stays off the global scope', async () => {
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        kinds.push((entry.toJSON() as { detail?: NodeGCPerformanceDetail }).detail?.kind ?? -1);
    });
    observer.observe({ entryTypes: ['gc'] });
    try {
      const hadGc = 'gc' in globalThis;
      settleHeap();
      await waitFor('a full collection', () => kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), 5_000);
      assert.equal('gc' in globalThis, hadGc);
    } finally {
      observer.disconnect();
    }
  });
});
