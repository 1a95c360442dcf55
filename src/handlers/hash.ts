/**
 * The built-in `hash` job: the MD5 (hex) of the payload exactly as the client sent it —
 * the bytes of the request body, not a re-serialisation of the parsed JSON. For a compact
 * body such as curl's `-d '{"example":"data"}'` that is the same digest as the original
 * system's md5 of JSON.stringify(job).
 */
import { createHash } from 'node:crypto';
import type { Handler } from './types.js';

export const HASH_ALGORITHM = 'md5';

export function hashPayload(rawPayload: string, algorithm: string = HASH_ALGORITHM): string {
  return createHash(algorithm).update(rawPayload, 'utf8').digest('hex');
}

export const hashHandler: Handler = async (_payload, context) => ({
  algorithm: HASH_ALGORITHM,
  hash: hashPayload(context.rawPayload),
});
