/**
 * `POST /jobs/batch`: many jobs in one request.
 *
 * - `application/x-ndjson`: one payload per line, exactly as sent (each line is stored byte
 *   for byte, and that text is what a hash job digests); options for all from the query or `X-Job-*` headers.
 * - `application/json`: an array of `{"payload": …, "type"?, "priority"?, "delay"?, "ttr"?,
 *   "attempts"?, "algorithm"?, "mean_ms"?, "fail_rate"?, "idempotencyKey"?}`; per-item
 *   fields override the request's options. Each payload is stored and hashed as its compact
 *   JSON (`JSON.stringify`), since a parsed array no longer knows its items' original bytes.
 *
 * Every item is validated before anything is recorded — its options, its depth (read from the
 * text before it is parsed), its size once queued, its idempotency key (once per batch) — and
 * one bad item refuses the whole batch (400 INVALID_BATCH, listing each bad item with its own
 * code), so a client never has to find out which half went in. Valid batches are recorded
 * with coalesced `insertMany` and queued with pipelined puts, a chunk of jobs at a time. If a backend fails midway, items already accepted stay accepted, the
 * others are undone one by one (or left for the reconciler, which notices records without a
 * queue copy); the answer lists each item's fate — 202 all accepted, 207 some, 503 none (422
 * when none was for the client's reasons alone, such as a key reused with another payload) —
 * and per-item idempotency keys make resending the batch safe.
 */
import type Koa from 'koa';
import { AppError, ErrorCode, isAppError } from '../../../errors.js';
import { newJobId } from '../../../jobs/job-id.js';
import type { Groups, JobOptions } from '../../../store/index.js';
import { toAppError } from '../../error-answers.js';
import {
  acceptCompletion,
  completionRequest,
  type OnCompleteSpec,
  parseOnComplete,
} from '../../groups/on-complete.js';
import {
  forbiddenKey,
  parsePayload,
  readTextBody,
  tooDeep,
  tooDeepElements,
} from '../../http/read-json-body.js';
import type { JobService } from './accept.js';
import {
  checkIdempotencyKey,
  FLOW_OPTION_NAMES,
  OPTION_NAMES,
  type OptionSource,
  optionSource,
  parseJobOptions,
  type RequestedJob,
} from './options.js';

export interface BatchDeps {
  jobs: JobService;
  /** Where a batch with `on_complete` keeps its group (groups/on-complete.ts). */
  store: Pick<Groups, 'indexGroup' | 'insertGroup'>;
  /** Refuse items whose payload holds a prototype key (FORBIDDEN_KEY). */
  forbidPrototypeKeys: boolean;
  defaultOptions: JobOptions;
  allowedTypes: readonly string[];
  maxJsonDepth: number;
  maxItems: number;
  maxBytes: number;
  bodyTimeoutMs: number;
  /** Told about each newly accepted job (metrics). */
  onAccepted?: (type: string) => void;
}

interface BatchItem {
  request: RequestedJob;
  text: string;
  idempotencyKey?: string;
}

type ItemProblem = { index: number; code: string; message: string };

const ITEM_FIELDS = new Set<string>(['payload', 'idempotencyKey', ...OPTION_NAMES, ...FLOW_OPTION_NAMES]);

/** Levels a JSON batch adds around each payload: the array and the item object. */
const ITEM_LEVELS = 2;

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
interface BatchGroup {
  id: string;
  onComplete: OnCompleteSpec;
  completionId: string;
}

function parseJsonItems(
  text: string,
  deps: BatchDeps,
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

function parseNdjsonItems(
  text: string,
  deps: BatchDeps,
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

/** 400 INVALID_BATCH listing the bad items (the first 100): nothing was recorded. */
function refuse(ctx: Koa.Context, problems: readonly ItemProblem[], message: string): void {
  ctx.status = 400;
  ctx.body = { error: { code: ErrorCode.INVALID_BATCH, message }, items: problems.slice(0, 100) };
}

/**
 * A batch with `on_complete`: its group document (the accepted items, each with its `item`
 * index as its combination), then its completion job, which waits for them (groups/on-complete.ts).
 */
async function formGroup(
  deps: BatchDeps,
  group: BatchGroup,
  items: readonly BatchItem[],
  jobs: ReadonlyArray<{ index: number; id?: string }>,
) {
  const members = jobs.flatMap((job) =>
    job.id !== undefined ? [{ id: job.id, combination: { item: job.index } }] : [],
  );
  await deps.store.insertGroup({
    _id: group.id,
    type: items[0]?.request.type ?? '',
    total: members.length,
    axes: {},
    excluded: 0,
    createdAt: new Date(),
    jobs: members,
    onComplete: group.completionId,
  });
  return await acceptCompletion(deps.jobs, group.onComplete, group.id, group.completionId);
}

export function batchRoute(deps: BatchDeps) {
  return async (ctx: Koa.Context): Promise<void> => {
    const body = await readTextBody(ctx.req, {
      limitBytes: deps.maxBytes,
      timeoutMs: deps.bodyTimeoutMs,
      accepted: ['application/json', 'application/x-ndjson'],
    });
    const fallback = optionSource(ctx.query, (name) => ctx.get(name));
    const ndjson = body.type === 'application/x-ndjson';
    // Before JSON.parse: a JSON batch is parsed whole, so its too-deep items are found in the
    // text (NDJSON lines go through parsePayload, which does the same per line).
    // `{"jobs": […]}` puts each item one level deeper; its items cannot be told apart in the text.
    const wrapped = !ndjson && body.text.trimStart().startsWith('{');
    if (wrapped && tooDeepElements(body.text, deps.maxJsonDepth + ITEM_LEVELS + 1).length > 0)
      throw tooDeep(deps.maxJsonDepth);
    const deep = ndjson || wrapped ? [] : tooDeepElements(body.text, deps.maxJsonDepth + ITEM_LEVELS);
    if (deep.length > 0) {
      const { message } = tooDeep(deps.maxJsonDepth);
      refuse(
        ctx,
        deep.map((index) => ({ index, code: ErrorCode.JSON_TOO_DEEP, message })),
        `${deep.length} item(s) nest too deep; nothing was recorded`,
      );
      return;
    }
    const { items, problems, group } = ndjson
      ? { ...parseNdjsonItems(body.text, deps, fallback), group: undefined }
      : parseJsonItems(body.text, deps, fallback);
    if (problems.length > 0) {
      refuse(
        ctx,
        problems,
        `${problems.length} of ${problems.length + items.length} items are invalid; nothing was recorded`,
      );
      return;
    }
    if (items.length === 0) throw new AppError(ErrorCode.INVALID_BATCH, 'the batch has no items');
    // Listed before any job exists, as a matrix's group is (GET /groups).
    if (group !== undefined)
      await deps.store.indexGroup({
        id: group.id,
        state: 'queued',
        at: new Date(),
        type: items[0]?.request.type ?? '',
      });
    const settled = await deps.jobs.acceptEach(
      items.map((item) => ({
        request: item.request,
        payload: { text: item.text, bytes: Buffer.byteLength(item.text) },
        ...(item.idempotencyKey !== undefined ? { idempotencyKey: item.idempotencyKey } : {}),
      })),
    );
    let accepted = 0;
    let backendFailed = false;
    const jobs = settled.map((outcome, index) => {
      if (outcome.status === 'fulfilled') {
        accepted += 1;
        const { replayed, ...job } = outcome.value;
        if (!replayed) deps.onAccepted?.(job.type);
        return { index, ...job, ...(replayed ? { replayed } : {}) };
      }
      const error = toAppError(outcome.reason);
      if (error.status >= 500) backendFailed = true;
      return { index, error: { code: error.code, message: error.message } };
    });
    const completion =
      group !== undefined && accepted > 0 ? await formGroup(deps, group, items, jobs) : undefined;
    const whole = accepted === items.length && (completion === undefined || !('error' in completion));
    ctx.status = whole ? 202 : accepted > 0 ? 207 : backendFailed ? 503 : 422;
    ctx.body = {
      accepted,
      failed: items.length - accepted,
      ...(group !== undefined ? { group: group.id } : {}),
      ...(completion !== undefined ? { onComplete: completion } : {}),
      jobs,
    };
  };
}
