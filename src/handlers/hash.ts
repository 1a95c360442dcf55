/**
 * The built-in `hash` job: the digest (hex) of the payload exactly as the client sent it —
 * the bytes of the request body, not a re-serialisation of the parsed JSON. MD5 by default,
 * as the original system; `algorithm=sha1` or `sha256` per job. For a compact body such as
 * curl's `-d '{"example":"data"}'` the MD5 is the original system's md5 of JSON.stringify(job).
 */
import { createHash } from 'node:crypto';
import type { Handler } from './types.js';

export const HASH_ALGORITHM = 'md5';
export const HASH_ALGORITHMS = ['md5', 'sha1', 'sha256'] as const;

export function hashPayload(rawPayload: string, algorithm: string = HASH_ALGORITHM): string {
  return createHash(algorithm).update(rawPayload, 'utf8').digest('hex');
}

export const hashHandler: Handler = async (_payload, context) => {
  const requested = context.params.algorithm;
  const algorithm = (HASH_ALGORITHMS as readonly unknown[]).includes(requested)
    ? String(requested)
    : HASH_ALGORITHM;
  return { algorithm, hash: hashPayload(context.rawPayload, algorithm) };
};
