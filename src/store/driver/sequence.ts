/**
 * Numbered documents with contiguous numbers (the job log, group marks): a writer inserts at
 * the next number and moves on only once a number exists, so a reader finds the last one by
 * probing point reads until the first missing number.
 */

/**
 * The last existing number at or after `from` (which exists, or is 0 / below a floor):
 * doubling steps forward until one is missing, then halving back. About 2·log2 of the
 * distance in point reads; one when nothing was added since `from`.
 */
export async function findLast(exists: (n: number) => Promise<boolean>, from: number): Promise<number> {
  let low = from;
  let step = 1;
  let high = low + step;
  while (await exists(high)) {
    low = high;
    step *= 2;
    high = low + step;
  }
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (await exists(mid)) low = mid;
    else high = mid;
  }
  return low;
}
