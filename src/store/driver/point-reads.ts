/**
 * Many documents by `_id`, one point read each. Every read the request and worker paths make
 * is a single-key `_id` equality: the one filter FerretDB's SQLite backend hands to SQLite,
 * and with our build's index patch the one it answers from an index (scripts/ferretdb/).
 * `$in`, ranges and other fields are filtered in Go after reading every row.
 */
import { type Db, type Document, MongoNetworkError, MongoServerError, type WithId } from 'mongodb';

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

/**
 * Server error codes the driver's retryable reads retry once on (the retryable-reads spec);
 * network errors, a cleared pool among them, are retried too.
 */
const RETRYABLE_READ_CODES: ReadonlySet<number> = new Set([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 134,
]);

function isRetryableRead(error: unknown): boolean {
  if (error instanceof MongoNetworkError) return true;
  return (
    error instanceof MongoServerError &&
    typeof error.code === 'number' &&
    RETRYABLE_READ_CODES.has(error.code)
  );
}

/**
 * Reads documents of one collection by `_id` with a `find` command of its own instead of
 * `findOne`: the same command on the wire, without the cursor the driver builds around it
 * (10–28 % less of the caller's CPU per read in three runs: docs/performance-journal.md,
 * "Point reads without the driver's cursor"). Retried once on the errors the driver retries a
 * read on, and with the read preference and read concern the URL gives (`db.command` inherits
 * neither by itself), as `findOne` is.
 */
export function pointReader<T extends Document>(db: Db, collectionName: string) {
  const level = db.readConcern?.level;
  // `retryReads=false` in the URL turns the driver's read retries off; it turns ours off too.
  const retries = db.client.options.retryReads !== false;
  const read = async (id: string): Promise<WithId<T> | null> => {
    const answer = await db.command(
      {
        find: collectionName,
        filter: { _id: id },
        limit: 1,
        batchSize: 1,
        singleBatch: true,
        ...(level !== undefined ? { readConcern: { level } } : {}),
      },
      { readPreference: db.readPreference },
    );
    const batch = (answer as { cursor?: { firstBatch?: unknown[] } }).cursor?.firstBatch;
    return (batch?.[0] as WithId<T> | undefined) ?? null;
  };
  return async (id: string): Promise<WithId<T> | null> => {
    try {
      return await read(id);
    } catch (error: unknown) {
      if (!retries || !isRetryableRead(error)) throw error;
      return await read(id);
    }
  };
}
