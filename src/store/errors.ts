/** Classifies what the MongoDB driver throws: duplicate keys, transient failures, the rest. */
import { MongoBulkWriteError, MongoError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';

export const DUPLICATE_KEY = 11000;

/** The store could not be reached or kept failing: callers answer 503 or retry later. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'StoreUnavailableError';
  }
}

export function isStoreUnavailable(error: unknown): error is StoreUnavailableError {
  return error instanceof StoreUnavailableError;
}

export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoError && error.code === DUPLICATE_KEY;
}

/** FerretDB/SQLite answers code 1 "database is locked (5) (SQLITE_BUSY)" when its one writer is busy. */
export function isDatabaseLocked(code: unknown, message: string): boolean {
  return code === 1 && /database is locked|SQLITE_BUSY/i.test(message);
}

/** Errors worth retrying with backoff: the server was unreachable, busy, or the write may be retried. */
export function isTransientStoreError(error: unknown): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  if (!(error instanceof MongoError)) return false;
  if (isDatabaseLocked(error.code, error.message)) return true;
  // insertMany's form of MongoTopologyClosedError (the client reconnects: see driver/reconnect.ts).
  if (error instanceof MongoBulkWriteError && error.message === 'Topology is closed') return true;
  if (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('TransientTransactionError'))
    return true;
  const name = error.name;
  return (
    name === 'MongoOperationTimeoutError' ||
    name === 'MongoNotConnectedError' ||
    name === 'MongoTopologyClosedError' ||
    // Every pooled connection busy on a server that stopped answering (found by the chaos
    // soak: a paused FerretDB turned POSTs into 500s), and a pool cleared after a failure.
    name === 'MongoWaitQueueTimeoutError' ||
    name === 'MongoPoolClearedError'
  );
}
