/** The job types this build knows. */
import { hashHandler } from './hash.js';
import type { HandlerRegistry } from './types.js';

export { HASH_ALGORITHM, hashPayload } from './hash.js';
export type { Handler, HandlerContext, HandlerRegistry } from './types.js';

export const DEFAULT_JOB_TYPE = 'hash';

export function builtinHandlers(): HandlerRegistry {
  return new Map([['hash', hashHandler]]);
}
