/**
 * The built-in `hash` job: the digest (hex) of the payload text the client sent. By default
 * (`encoding=json`) it digests that text's JSON string encoding, `JSON.stringify(text)`, as
 * the original system's worker did: for `{"example":"data"}` the MD5 is
 * 09ee943c4fa33cd5a355eb7a4e38f7ef, the answer its README shows. `encoding=raw` digests the
 * bytes exactly as received instead (`printf '%s' "$BODY" | md5sum`). MD5 by default, as the
 * original; `algorithm=sha1` or `sha256` per job.
 */
import { createHash } from 'node:crypto';
import type { Handler } from './types.js';

export const HASH_ALGORITHM = 'md5';
export const HASH_ALGORITHMS = ['md5', 'sha1', 'sha256'] as const;

/** What is digested: the payload text as a JSON string (the original's), or its bytes as sent. */
export const HASH_ENCODINGS = ['json', 'raw'] as const;
export type HashEncoding = (typeof HASH_ENCODINGS)[number];
export const HASH_ENCODING: HashEncoding = 'json';

/**
 * The digest a `hash` job with this algorithm and encoding stores for this payload text; with
 * the defaults, the one a job posted without parameters gets.
 */
export function hashPayload(
  rawPayload: string,
  algorithm: string = HASH_ALGORITHM,
  encoding: HashEncoding = HASH_ENCODING,
): string {
  const input = encoding === 'raw' ? rawPayload : JSON.stringify(rawPayload);
  return createHash(algorithm).update(input, 'utf8').digest('hex');
}

export const hashHandler: Handler = async (_payload, context) => {
  const { algorithm: askedAlgorithm, encoding: askedEncoding } = context.params;
  const algorithm = (HASH_ALGORITHMS as readonly unknown[]).includes(askedAlgorithm)
    ? String(askedAlgorithm)
    : HASH_ALGORITHM;
  const encoding = (HASH_ENCODINGS as readonly unknown[]).includes(askedEncoding)
    ? (askedEncoding as HashEncoding)
    : HASH_ENCODING;
  return { algorithm, encoding, hash: hashPayload(context.rawPayload, algorithm, encoding) };
};
