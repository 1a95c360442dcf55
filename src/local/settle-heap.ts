/**
 * One full garbage collection once a manager or worker has started. Until its first full
 * collection V8 lets the old generation grow to a start-up limit far above what these processes
 * keep alive: a worker's old space reached 66 MB (19 MB live) before its first mark-compact,
 * under load, and that was its peak RSS (139–144 MB) for the rest of the run; after it, the limit
 * follows the live heap (`--heap-growing-percent`, index.ts) and the old space stayed at about
 * 28 MB. Collecting once after start sets that limit from the start: peak RSS 101–104 MB for a
 * worker with a 4 MB young generation, 122–128 for the manager (`npm run bench`, docs/performance-journal.md "The first full collection").
 * V8's `--initial-old-space-size` does the same from the command line, but NODE_OPTIONS (the
 * image's, the stack file's, the chart's) refuses it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Runs one full collection now. `--expose-gc` set at run time gives `gc` to contexts made after. */
export function settleHeap(): void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc === 'function') gc();
}
