/**
 * Many documents by `_id`, one point read each. Every read the request and worker paths make
 * is a single-key `_id` equality: the one filter FerretDB's SQLite backend hands to SQLite,
 * and with our build's index patch the one it answers from an index (scripts/ferretdb/).
 * `$in`, ranges and other fields are filtered in Go after reading every row.
 */

/** Point reads one caller keeps in flight: enough to hide the round trip, few enough to share the pool. */
export const POINT_READS_IN_FLIGHT = 16;

/** `fn` over `items` with at most `limit` calls in flight; results in the items' order. */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      out[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
