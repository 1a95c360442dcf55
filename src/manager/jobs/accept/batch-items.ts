/**
 * A `POST /jobs/batch` body cut into its items (batch.ts): a JSON array of `{"payload": …}`
 * items (or `{"jobs": […], "on_complete": {…}}`), or NDJSON lines, each item checked — its
 * fields, options, depth, size once queued and idempotency key — with every bad item listed
 * rather than the first one thrown.
 */
import { AppError, ErrorCode, isAppError } from '../../../errors.js';
import { newJobId } from '../../../jobs/job-id.js';
import type { JobOptions } from '../../../store/index.js';
import { completionRequest, type OnCompleteSpec, parseOnComplete } from '../../groups/on-complete.js';
import { forbiddenKey, parsePayload } from '../../http/read-json-body.js';
import type { JobService } from './accept.js';
import {
  checkIdempotencyKey,
  FLOW_OPTION_NAMES,
  OPTION_NAMES,
  type OptionSource,
  parseJobOptions,
  type RequestedJob,
} from './options.js';

/** What checking a batch's items needs. */
export interface BatchItemRules {
  jobs: Pick<JobService, 'checkQueuedSize'>;
  /** Refuse items whose payload holds a prototype key (FORBIDDEN_KEY). */
  forbidPrototypeKeys: boolean;
  defaultOptions: JobOptions;
  allowedTypes: readonly string[];
  maxJsonDepth: number;
  maxItems: number;
}

export interface BatchItem {
  request: RequestedJob;
  text: string;
  idempotencyKey?: string;
}

export type ItemProblem = { index: number; code: string; message: string };

const ITEM_FIELDS = new Set<string>(['payload', 'idempotencyKey', ...OPTION_NAMES, ...FLOW_OPTION_NAMES]);

/** Levels a JSON batch adds around each payload: the array and the item object. */
export const ITEM_LEVELS = 2;

function problem(index: number, error: unknown): ItemProblem {
  if (isAppError(error)) return { index, code: error.code, message: error.message };
  throw error;
}

/** Per-item fields first, then the request's options. */
function itemSource(item: Record<string, unknown>, fallback: OptionSource): OptionSource {
  return (name) => {
    const value = item[name];
    if (value === undefined) return fallback(name);
    if (typeof value === 'number' || typeof value === 'string') return String(value);
    throw new AppError(ErrorCode.INVALID_OPTION, `${name} must be a number or a string`);
  };
}

/** A JSON batch's body: its items, and `on_complete` when it came as `{"jobs": […], "on_complete": {…}}`. */
function batchBody(text: string): { list: unknown[]; onComplete?: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    throw new AppError(ErrorCode.INVALID_JSON, 'the request body is not valid JSON', { cause: error });
  }
  if (Array.isArray(value)) return { list: value };
  const shape =
    'a JSON batch is an array of {"payload": …} items, or {"jobs": [those items], "on_complete": {…}}';
  if (value === null || typeof value !== 'object') throw new AppError(ErrorCode.INVALID_BATCH, shape);
  const { jobs, on_complete: onComplete, ...rest } = value as Record<string, unknown>;
  if (!Array.isArray(jobs) || Object.keys(rest).length > 0)
    throw new AppError(ErrorCode.INVALID_BATCH, shape);
  return { list: jobs, ...(onComplete !== undefined ? { onComplete } : {}) };
}

/** A batch with `on_complete`: its group, and the completion job checked. */
export interface BatchGroup {
  id: string;
  onComplete: OnCompleteSpec;
  completionId: string;
}

export function parseJsonItems(
  text: string,
  deps: BatchItemRules,
  fallback: OptionSource,
): { items: BatchItem[]; problems: ItemProblem[]; group?: BatchGroup } {
  const { list: value, onComplete } = batchBody(text);
  let group: BatchGroup | undefined;
  if (onComplete !== undefined) {
    const spec = parseOnComplete(onComplete, deps);
    group = { id: newJobId(), onComplete: spec, completionId: newJobId() };
    deps.jobs.checkQueuedSize(completionRequest(spec, group.id, group.completionId), spec.text);
  }
  if (value.length > deps.maxItems)
    throw new AppError(ErrorCode.INVALID_BATCH, `at most ${deps.maxItems} items per batch`);
  const items: BatchItem[] = [];
  const problems: ItemProblem[] = [];
  const keyIndex = new Map<string, number>();
  value.forEach((raw: unknown, index) => {
    try {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !('payload' in raw)) {
        throw new AppError(ErrorCode.INVALID_JOB, 'each item is an object with a payload');
      }
      const item = raw as Record<string, unknown>;
      if (deps.forbidPrototypeKeys && Object.hasOwn(item, '__proto__'))
        throw forbiddenKey(`$[${index}].__proto__`);
      const unknown = Object.keys(item).filter((key) => !ITEM_FIELDS.has(key));
      if (unknown.length > 0)
        throw new AppError(ErrorCode.INVALID_OPTION, `unknown item field(s): ${unknown.join(', ')}`);
      const payloadText = JSON.stringify(item.payload);
      parsePayload(payloadText, {
        maxDepth: deps.maxJsonDepth,
        forbidPrototypeKeys: deps.forbidPrototypeKeys,
      });
      const key = checkIdempotencyKey(item.idempotencyKey);
      // A replayed key's job is another request's, outside this group: its end would never count.
      if (key !== undefined && group !== undefined)
        throw new AppError(ErrorCode.INVALID_OPTION, 'a batch with on_complete takes no idempotencyKey');
      const parsed = parseJobOptions(itemSource(item, fallback), deps.defaultOptions, deps.allowedTypes);
      const request: RequestedJob = group
        ? { ...parsed, matrix: { group: group.id, combination: { item: index }, id: newJobId() } }
        : parsed;
      deps.jobs.checkQueuedSize(request, payloadText);
      if (key !== undefined) {
        // Two items under one key is never a retry: which one would the key stand for?
        const first = keyIndex.get(key);
        if (first !== undefined) {
          throw new AppError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            `item ${first} has this idempotencyKey already; one key names one job`,
          );
        }
        keyIndex.set(key, index);
      }
      items.push({ request, text: payloadText, ...(key !== undefined ? { idempotencyKey: key } : {}) });
    } catch (error: unknown) {
      problems.push(problem(index, error));
    }
  });
  return { items, problems, ...(group !== undefined ? { group } : {}) };
}

export function parseNdjsonItems(
  text: string,
  deps: BatchItemRules,
  fallback: OptionSource,
): { items: BatchItem[]; problems: ItemProblem[] } {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > deps.maxItems)
    throw new AppError(ErrorCode.INVALID_BATCH, `at most ${deps.maxItems} items per batch`);
  const request = parseJobOptions(fallback, deps.defaultOptions, deps.allowedTypes);
  const items: BatchItem[] = [];
  const problems: ItemProblem[] = [];
  lines.forEach((line, index) => {
    try {
      parsePayload(line, { maxDepth: deps.maxJsonDepth, forbidPrototypeKeys: deps.forbidPrototypeKeys });
      deps.jobs.checkQueuedSize(request, line);
      items.push({ request, text: line });
    } catch (error: unknown) {
      problems.push(problem(index, error));
    }
  });
  return { items, problems };
}
