/**
 * Documents by `_id`. Every read the request and worker paths make names documents by `_id`
 * alone: `{_id: id}`, or `{_id: {$in: ids}}` for reads that come together — the two filters our
 * FerretDB build hands to SQLite and answers from the `_id` index (scripts/ferretdb/; MongoDB
 * answers both from its `_id` index). Ranges, other fields and counts are filtered in Go after
 * reading every row.
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
 * Ids one `$in` read names at most, by default: a page's worth and more, well under FerretDB's
 * bound (1,000). FerretDB does not cut a batch by size (MongoDB cuts at 16 MB): a collection
 * whose documents may be large (a job's record holds its payload) is read fewer at a time.
 */
export const IDS_PER_READ = 100;

interface Waiting<T> {
  resolve: (doc: WithId<T> | null) => void;
  reject: (error: unknown) => void;
}

/**
 * Reads documents of one collection by `_id`. The reads asked for in one turn of the event loop
 * (a page's lanes, the GETs of the requests that arrived together) go out as one `find` of
 * `{_id: {$in: ids}}` after it (`setImmediate`), the same id once; a read alone as
 * `{_id: id}`. FerretDB's cost is mostly per command: a document cost it about a third as much
 * CPU in `$in` reads of 50 as in point reads (docs/performance-journal.md, "Reads that come
 * together, read together"). A `find` command of its own instead of `findOne`: the same command
 * on the wire, without the cursor the driver builds around it ("Point reads without the
 * driver's cursor"). Retried once on the errors the driver retries a read on, and with the read
 * preference and read concern the URL gives (`db.command` inherits neither by itself), as
 * `findOne` is.
 */
export function pointReader<T extends Document>(
  db: Db,
  collectionName: string,
  { idsPerRead = IDS_PER_READ }: { idsPerRead?: number } = {},
) {
  const level = db.readConcern?.level;
  // `retryReads=false` in the URL turns the driver's read retries off; it turns ours off too.
  const retries = db.client.options.retryReads !== false;
  const find = (filter: Document, batchSize: number) =>
    db.command(
      {
        find: collectionName,
        filter,
        // One more than can match: the cursor is then exhausted, and closed, by the first batch
        // unless the batch was cut by size. FerretDB leaves a cursor open when the first batch is
        // exactly full, and with such cursors open every later read waited (docs/facts.md).
        batchSize: batchSize + 1,
        ...(batchSize === 1 ? { limit: 1, singleBatch: true } : {}),
        ...(level !== undefined ? { readConcern: { level } } : {}),
      },
      { readPreference: db.readPreference },
    ) as Promise<{ cursor?: { id?: unknown; firstBatch?: Array<WithId<T>> } }>;
  const retried = async <R>(run: () => Promise<R>): Promise<R> => {
    try {
      return await run();
    } catch (error: unknown) {
      if (!retries || !isRetryableRead(error)) throw error;
      return await run();
    }
  };
  const readOne = async (id: string): Promise<WithId<T> | null> => {
    const answer = await retried(() => find({ _id: id }, 1));
    return answer.cursor?.firstBatch?.[0] ?? null;
  };
  /** The documents of `ids` that exist, by id. */
  const readMany = async (ids: string[]): Promise<Map<string, WithId<T>>> => {
    const answer = await retried(() => find({ _id: { $in: ids } }, ids.length));
    const found = new Map<string, WithId<T>>();
    for (const doc of answer.cursor?.firstBatch ?? []) found.set(doc._id as unknown as string, doc);
    const cursorId = answer.cursor?.id;
    if (cursorId !== undefined && cursorId !== null && Number(cursorId) !== 0) {
      // Cut by size: let the cursor go, then read what the batch did not hold one at a time.
      db.command({ killCursors: collectionName, cursors: [cursorId] }).catch(() => undefined);
      for (const id of ids) {
        if (found.has(id)) continue;
        const doc = await readOne(id);
        if (doc) found.set(id, doc);
      }
    }
    return found;
  };

  let waiting = new Map<string, Array<Waiting<T>>>();
  let scheduled = false;
  const answer = (
    ids: string[],
    batch: Map<string, Array<Waiting<T>>>,
    read: Promise<Map<string, WithId<T>>>,
  ) =>
    read.then(
      (found) => {
        for (const id of ids) for (const waiter of batch.get(id) ?? []) waiter.resolve(found.get(id) ?? null);
      },
      (error: unknown) => {
        for (const id of ids) for (const waiter of batch.get(id) ?? []) waiter.reject(error);
      },
    );
  const flush = () => {
    scheduled = false;
    const batch = waiting;
    waiting = new Map();
    const ids = [...batch.keys()];
    for (let at = 0; at < ids.length; at += idsPerRead) {
      const some = ids.slice(at, at + idsPerRead);
      const [only] = some;
      const read =
        some.length === 1 && only !== undefined
          ? readOne(only).then((doc) => new Map(doc ? [[only, doc]] : []))
          : readMany(some);
      void answer(some, batch, read);
    }
  };
  return (id: string): Promise<WithId<T> | null> =>
    new Promise((resolve, reject) => {
      const waiters = waiting.get(id);
      if (waiters) waiters.push({ resolve, reject });
      else waiting.set(id, [{ resolve, reject }]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
