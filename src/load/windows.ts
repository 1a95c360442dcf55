/**
 * Figures over recorded start and end times, for checking limits (docs/limits-design.md): the
 * most events in any window of a given length, and the most intervals overlapping at once.
 */

/** The most of `times` (ms, any order) inside any closed window `[t, t + windowMs]`. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last += 1) {
    while ((sorted[last] as number) - (sorted[first] as number) > windowMs) first += 1;
    best = Math.max(best, last - first + 1);
  }
  return best;
}

/**
 * The most intervals `[start, end)` open at one moment. An interval that ends exactly when
 * another starts does not overlap it.
 */
export function maxOverlap(intervals: ReadonlyArray<{ start: number; end: number }>): number {
  const edges: Array<[number, number]> = [];
  for (const { start, end } of intervals) {
    edges.push([start, 1], [end, -1]);
  }
  // Ends before starts at the same instant.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let best = 0;
  for (const [, delta] of edges) {
    open += delta;
    best = Math.max(best, open);
  }
  return best;
}
