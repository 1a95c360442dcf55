/**
 * Job options on POST, from query parameters or `X-Job-*` headers (the same name in either;
 * both given and different is an error): `type`, `priority`, `delay`, `ttr`, `attempts`, and
 * handler parameters — `algorithm` and `encoding` for hash, `mean_ms` and `fail_rate` for simulate —
 * and `callback_url` (`X-Job-Callback-Url`), checked by the job service (callback.ts); and a
 * flow's `depends_on` (`X-Job-Depends-On`: 1-100 comma-separated job ids) with its
 * `on_parent_failure` (docs/flows-design.md), whose parents the job service looks up.
 */
import { AppError, ErrorCode } from '../../../errors.js';
import {
  BUILTIN_TYPES,
  DEFAULT_JOB_TYPE,
  HASH_ALGORITHMS,
  HASH_ENCODINGS,
  JOB_TYPE,
} from '../../../handlers/index.js';
import type { JobParams } from '../../../jobs/envelope.js';
import { parseJobId } from '../../../jobs/job-id.js';
import {
  type FlowSpec,
  type JobOptions,
  PARENT_FAILURE_POLICIES,
  type ParentFailurePolicy,
} from '../../../store/index.js';

export interface RequestedJob {
  type: string;
  options: JobOptions;
  params: JobParams;
  /** `callback_url` as given; accept checks it (callback.ts) and falls back to the type's default. */
  callbackUrl?: string;
  /** Set for the jobs of a matrix: the group, this job's combination of axis values, and its id (minted by the fan-out). */
  matrix?: { group: string; combination: Readonly<Record<string, string | number | boolean>>; id: string };
  /** Set for a schedule's tick job (manager/background/scheduler.ts): which schedule, which tick. */
  schedule?: { name: string; tick: string };
  /** `depends_on` and `on_parent_failure`: the job waits for its parents (docs/flows-design.md). */
  flow?: FlowSpec;
  /** An id minted by the caller before the accept: a group's completion job, named in its group document. */
  presetId?: string;
}

/** The flow options: not in OPTION_NAMES, so a schedule's job cannot carry them (every tick would wait on the same parents). */
export const FLOW_OPTION_NAMES = ['depends_on', 'on_parent_failure'] as const;

/** At most this many parents per job: each is a point read at accept and at every look. */
export const MAX_PARENTS = 100;

/** Where option values come from: a query parameter or a header, by option name. */
export type OptionSource = (name: string) => string | undefined;

export const OPTION_NAMES = [
  'type',
  'priority',
  'delay',
  'ttr',
  'attempts',
  'algorithm',
  'encoding',
  'mean_ms',
  'fail_rate',
  'callback_url',
] as const;

const UINT32_MAX = 2 ** 32 - 1;

/**
 * The types accepted when JOB_TYPES is unset: the built-in handlers'. Each type a client
 * posts becomes a beanstalkd tube and a series in /metrics for good, so types left open let
 * any client make them without bound, and queue jobs that no worker will ever run. A cap on
 * distinct types would bound the count but still take jobs nobody serves, and each manager
 * replica would count (and forget on restart) its own types; a list says up front what runs,
 * the same on every replica. Deployments with their own handlers (`worker --handlers`)
 * name their types in JOB_TYPES.
 */
export const DEFAULT_ACCEPTED_TYPES: readonly string[] = BUILTIN_TYPES;

function invalid(message: string): AppError {
  return new AppError(ErrorCode.INVALID_OPTION, message);
}

function integer(name: string, text: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}`);
  }
  return Number(text);
}

function invalidFlow(message: string): AppError {
  return new AppError(ErrorCode.INVALID_DEPENDS_ON, message);
}

/** `depends_on` and `on_parent_failure`, when given; INVALID_DEPENDS_ON for a bad one. */
export function parseFlow(source: OptionSource): FlowSpec | undefined {
  const text = source('depends_on');
  const policy = source('on_parent_failure');
  if (text === undefined) {
    if (policy !== undefined) throw invalidFlow('on_parent_failure needs depends_on');
    return undefined;
  }
  const ids = text.split(',').map((part) => part.trim());
  if (ids.length > MAX_PARENTS) throw invalidFlow(`depends_on names at most ${MAX_PARENTS} jobs`);
  const dependsOn: string[] = [];
  for (const part of ids) {
    const id = parseJobId(part);
    if (id === null) throw invalidFlow(`depends_on: ${JSON.stringify(part.slice(0, 64))} is not a job id`);
    if (dependsOn.includes(id)) throw invalidFlow(`depends_on names ${id} twice`);
    dependsOn.push(id);
  }
  if (policy !== undefined && !(PARENT_FAILURE_POLICIES as readonly string[]).includes(policy)) {
    throw invalidFlow(`on_parent_failure must be one of ${PARENT_FAILURE_POLICIES.join(', ')}`);
  }
  return { dependsOn, onParentFailure: (policy ?? 'fail') as ParentFailurePolicy };
}

/** Reads one option from the query (`?name=`) or the header (`X-Job-Name`). */
export function optionSource(
  query: Readonly<Record<string, string | string[] | undefined>>,
  header: (name: string) => string,
): OptionSource {
  return (name) => {
    const fromQuery = query[name];
    if (Array.isArray(fromQuery)) throw invalid(`${name} is given more than once`);
    const headerName = `X-Job-${name.replace(/_/g, '-')}`;
    const fromHeader = header(headerName);
    if (fromQuery !== undefined && fromHeader !== '' && fromQuery !== fromHeader) {
      throw invalid(`${name} is given as a query parameter and as ${headerName} with different values`);
    }
    return fromQuery ?? (fromHeader === '' ? undefined : fromHeader);
  };
}

/** A POST's type and options; `allowedTypes` empty means DEFAULT_ACCEPTED_TYPES. */
export function parseJobOptions(
  source: OptionSource,
  defaults: JobOptions,
  allowedTypes: readonly string[],
): RequestedJob {
  const type = source('type') ?? DEFAULT_JOB_TYPE;
  if (!JOB_TYPE.test(type))
    throw invalid('type must be lower-case letters, digits, _ and -, starting with a letter, at most 63');
  const accepted = allowedTypes.length > 0 ? allowedTypes : DEFAULT_ACCEPTED_TYPES;
  if (!accepted.includes(type)) {
    throw new AppError(
      ErrorCode.UNKNOWN_JOB_TYPE,
      `unknown type ${type}; this manager accepts ${accepted.join(', ')} (JOB_TYPES)`,
    );
  }
  const read = (name: string, min: number, max: number, fallback: number) => {
    const text = source(name);
    return text === undefined ? fallback : integer(name, text, min, max);
  };
  const options: JobOptions = {
    priority: read('priority', 0, UINT32_MAX, defaults.priority),
    delay: read('delay', 0, 31_536_000, defaults.delay),
    ttr: read('ttr', 1, 86_400, defaults.ttr),
    maxAttempts: read('attempts', 1, 100, defaults.maxAttempts),
  };
  const params: Record<string, string | number> = {};
  const algorithm = source('algorithm');
  if (algorithm !== undefined) {
    if (type !== 'hash') throw invalid('algorithm applies to type hash only');
    if (!(HASH_ALGORITHMS as readonly string[]).includes(algorithm))
      throw invalid(`algorithm must be one of ${HASH_ALGORITHMS.join(', ')}`);
    params.algorithm = algorithm;
  }
  const encoding = source('encoding');
  if (encoding !== undefined) {
    if (type !== 'hash') throw invalid('encoding applies to type hash only');
    if (!(HASH_ENCODINGS as readonly string[]).includes(encoding))
      throw invalid(
        `encoding must be one of ${HASH_ENCODINGS.join(', ')} (json: the payload text as a JSON string, as the original system hashed it; raw: the bytes as sent)`,
      );
    params.encoding = encoding;
  }
  const meanMs = source('mean_ms');
  const failRate = source('fail_rate');
  if ((meanMs !== undefined || failRate !== undefined) && type !== 'simulate') {
    throw invalid('mean_ms and fail_rate apply to type simulate only');
  }
  if (meanMs !== undefined) params.mean_ms = integer('mean_ms', meanMs, 0, 3_600_000);
  if (failRate !== undefined) {
    if (!/^(0(\.\d{1,6})?|1(\.0{1,6})?)$/.test(failRate))
      throw invalid('fail_rate must be a number from 0 to 1');
    params.fail_rate = Number(failRate);
  }
  const callbackUrl = source('callback_url');
  const flow = parseFlow(source);
  return {
    type,
    options,
    params,
    ...(callbackUrl !== undefined ? { callbackUrl } : {}),
    ...(flow !== undefined ? { flow } : {}),
  };
}

/** An Idempotency-Key: 1-255 visible ASCII characters. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The key, or undefined when absent; a malformed one is a 400. */
export function checkIdempotencyKey(key: unknown): string | undefined {
  if (key === undefined || key === '') return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new AppError(
      ErrorCode.INVALID_IDEMPOTENCY_KEY,
      'an Idempotency-Key is 1-255 visible ASCII characters',
    );
  }
  return key;
}
