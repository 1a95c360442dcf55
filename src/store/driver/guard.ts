import { isStoreUnavailable, isTransientStoreError, StoreUnavailableError } from '../errors.js';

/** Runs a driver call and turns "could not reach the server" into StoreUnavailableError. */
export async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error: unknown) {
    if (isStoreUnavailable(error)) throw error;
    if (isTransientStoreError(error)) {
      throw new StoreUnavailableError(`MongoDB unavailable (${what})`, { cause: error });
    }
    throw error;
  }
}
