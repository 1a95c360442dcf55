/**
 * Reads a JSON request body with the checks Koa's parsers leave out (docs/facts.md, "Koa body
 * parsing"): `application/json` required (JSON sent as text/plain is not silently `{}`),
 * a byte limit, strict UTF-8, an object or array at the top, a depth cap, and (as Fastify's
 * default `onProtoPoisoning`/`onConstructorPoisoning: 'error'`) no key that can reach an
 * object's prototype. Returns the exact text received — that is what gets stored and hashed —
 * beside the parsed value.
 */
import type { IncomingMessage } from 'node:http';
import { parse as parseContentType } from 'content-type';
import getRawBody from 'raw-body';
import { AppError, ErrorCode } from '../../errors.js';

export interface JsonBody {
  text: string;
  bytes: number;
  value: unknown;
}

export interface ReadJsonOptions {
  limitBytes: number;
  maxDepth: number;
  /** Refuse `__proto__` and `constructor.prototype` keys anywhere in the body (FORBIDDEN_KEY). */
  forbidPrototypeKeys: boolean;
  /** The whole body must arrive within this; a client that trickles or stalls gets 408. */
  timeoutMs: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The media type of the request (one of `accepted`), or a 415. */
function checkContentType(header: string | undefined, accepted: readonly string[]): string {
  const wanted = accepted.join(' or ');
  if (header === undefined || header === '') {
    throw new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `send the job as Content-Type: ${wanted}`);
  }
  let parsed: ReturnType<typeof parseContentType>;
  try {
    parsed = parseContentType(header);
  } catch {
    throw new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `unreadable Content-Type; send ${wanted}`);
  }
  if (!accepted.includes(parsed.type)) {
    throw new AppError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `Content-Type ${parsed.type} is not accepted; send ${wanted}`,
    );
  }
  const charset = parsed.parameters.charset?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'only UTF-8 JSON is accepted');
  }
  return parsed.type;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Finds nesting deeper than `maxDepth` in JSON text before it is parsed, so no input makes
 * JSON.parse build a deep structure (2,000,000 levels: 0.9 s and 130 MB) or a recursive walk
 * (JSON.stringify) overflow the stack on one. Answers the positions, in a top-level array,
 * of the elements that reach too deep (the array counts as level 1); for any other top
 * level, [0] when it does. Text that is not JSON is left to JSON.parse to refuse.
 */
export function tooDeepElements(text: string, maxDepth: number): number[] {
  const found: number[] = [];
  let depth = 0;
  let element = 0;
  let topIsArray = false;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth += 1;
      if (depth === 1) topIsArray = c === OPEN_ARRAY;
      if (depth > maxDepth && found[found.length - 1] !== element) {
        if (!topIsArray) return [0];
        found.push(element);
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth -= 1;
    } else if (c === COMMA && depth === 1) {
      element += 1;
    }
  }
  return found;
}

function rawBodyError(error: unknown, limitBytes: number): AppError {
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') {
    return new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `a job payload may be at most ${limitBytes} bytes`, {
      cause: error,
    });
  }
  if (type === 'encoding.unsupported') {
    return new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'compressed bodies are not accepted', {
      cause: error,
    });
  }
  return new AppError(ErrorCode.INVALID_JSON, 'the request body could not be read completely', {
    cause: error,
  });
}

export interface TextBody {
  text: string;
  bytes: number;
  /** The media type it came as. */
  type: string;
}

/** Reads a UTF-8 body of one of the accepted media types, within the size and time limits. */
export async function readTextBody(
  req: IncomingMessage,
  options: Omit<ReadJsonOptions, 'maxDepth' | 'forbidPrototypeKeys'> & { accepted: readonly string[] },
): Promise<TextBody> {
  const type = checkContentType(req.headers['content-type'], options.accepted);
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    throw new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'compressed bodies are not accepted');
  }
  const declared = req.headers['content-length'];
  let buffer: Buffer;
  let timer: NodeJS.Timeout | undefined;
  try {
    buffer = await Promise.race([
      getRawBody(req, {
        limit: options.limitBytes,
        ...(declared !== undefined ? { length: declared } : {}),
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(
            new AppError(
              ErrorCode.REQUEST_TIMEOUT,
              `the request body did not arrive within ${options.timeoutMs} ms`,
              {
                headers: { Connection: 'close' },
              },
            ),
          );
        }, options.timeoutMs);
      }),
    ]);
  } catch (error: unknown) {
    if (error instanceof AppError) {
      // Stop reading what is left; the connection closes after the answer.
      req.unpipe();
      req.resume();
      throw error;
    }
    throw rawBodyError(error, options.limitBytes);
  } finally {
    clearTimeout(timer);
  }
  let text: string;
  try {
    text = utf8.decode(buffer);
  } catch (error: unknown) {
    throw new AppError(ErrorCode.INVALID_UTF8, 'the request body is not valid UTF-8', { cause: error });
  }
  return { text, bytes: buffer.length, type };
}

/** The error for a payload nested deeper than `maxDepth`. */
export function tooDeep(maxDepth: number): AppError {
  return new AppError(ErrorCode.JSON_TOO_DEEP, `a job payload may nest at most ${maxDepth} levels`);
}

const hasOwn = (value: object, key: string) => Object.hasOwn(value, key);

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Where a parsed JSON value holds a key that can reach an object's prototype once a handler
 * merges or assigns it (`Object.assign`, a deep merge): a `__proto__` key, or a `constructor`
 * key whose value is an object with a `prototype` key — what Fastify's secure-json-parse
 * refuses. Answers its path (`$.a.__proto__`), or undefined. `text` is the JSON the value was
 * parsed from: only text that spells one of those names (or escapes a character, as
 * `"\u005f_proto__"` does) is walked. The value is no deeper than the depth cap, which is
 * checked before parsing, so the walk's recursion is bounded.
 */
export function prototypeKeyPath(value: unknown, text: string, path = '$'): string | undefined {
  if (!text.includes('__proto__') && !text.includes('\\u') && !text.includes('constructor')) return undefined;
  return findPrototypeKey(value, path);
}

function findPrototypeKey(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findPrototypeKey(item, `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const at = PLAIN_KEY.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
    if (key === '__proto__') return at;
    const child: unknown = (value as Record<string, unknown>)[key];
    if (key === 'constructor' && child !== null && typeof child === 'object' && hasOwn(child, 'prototype')) {
      return `${at}.prototype`;
    }
    const found = findPrototypeKey(child, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The error for a payload with a key that can reach a prototype, found at `path`. */
export function forbiddenKey(path: string): AppError {
  return new AppError(
    ErrorCode.FORBIDDEN_KEY,
    `a payload may not hold a __proto__ key, nor a constructor key holding a prototype key (found at ${path})`,
  );
}

/** What a job payload must be beyond valid JSON: its depth cap, and whether prototype keys are refused. */
export interface PayloadRules {
  maxDepth: number;
  forbidPrototypeKeys: boolean;
}

/**
 * Parses one job payload: JSON, an object or array, no deeper than `maxDepth` (checked before
 * parsing), without prototype keys when they are forbidden.
 */
export function parsePayload(text: string, rules: PayloadRules): unknown {
  if (tooDeepElements(text, rules.maxDepth).length > 0) throw tooDeep(rules.maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    throw new AppError(ErrorCode.INVALID_JSON, 'the request body is not valid JSON', { cause: error });
  }
  if (value === null || typeof value !== 'object') {
    throw new AppError(ErrorCode.INVALID_JOB, 'a job payload must be a JSON object or array');
  }
  if (rules.forbidPrototypeKeys) {
    const found = prototypeKeyPath(value, text);
    if (found !== undefined) throw forbiddenKey(found);
  }
  return value;
}

export async function readJsonBody(req: IncomingMessage, options: ReadJsonOptions): Promise<JsonBody> {
  const { text, bytes } = await readTextBody(req, { ...options, accepted: ['application/json'] });
  return { text, bytes, value: parsePayload(text, options) };
}
