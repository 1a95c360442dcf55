import { isStoreUnavailable, isTransientStoreError, StoreUnavailableError } from '../errors.js';

/** Runs a driver call and turns "could not reach the server" into StoreUnavailableError. */
export async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error: unknown) {
    throw guarded(what, error);
  }
}

/** What `guard` throws for `error`: StoreUnavailableError for "could not reach the server". */
export function guarded(what: string, error: unknown): unknown {
  if (isStoreUnavailable(error)) return error;
  if (isTransientStoreError(error)) {
    return new StoreUnavailableError(`MongoDB unavailable (${what})`, { cause: error });
  }
  return error;
}
