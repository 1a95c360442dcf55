/**
 * `POST /jobs/batch`: many jobs in one request.
 *
 * - `application/x-ndjson`: one payload per line, exactly as sent (each line is stored and
 *   hashed byte for byte); options for all from the query or `X-Job-*` headers.
 * - `application/json`: an array of `{"payload": …, "type"?, "priority"?, "delay"?, "ttr"?,
 *   "attempts"?, "algorithm"?, "mean_ms"?, "fail_rate"?, "idempotencyKey"?}`; per-item
 *   fields override the request's options. Each payload is stored and hashed as its compact
 *   JSON (`JSON.stringify`), since a parsed array no longer knows its items' original bytes.
 *
 * Every item is validated before anything is recorded: one bad item refuses the whole
 * batch (400 INVALID_BATCH, listing each bad item), so a client never has to find out which
 * half went in. Valid batches are recorded with coalesced `insertMany` and queued with
 * pipelined puts. If a backend fails midway, items already accepted stay accepted, the
 * others are undone one by one (or left for the reconciler, which notices records without a
 * queue copy); the answer lists each item's fate — 202 all accepted, 207 some, 503 none — and
 * per-item idempotency keys make resending the batch safe.
 */
import type Koa from 'koa';
import { AppError, ErrorCode, isAppError } from '../errors.js';
import type { JobOptions } from '../store/index.js';
import {
  checkIdempotencyKey,
  OPTION_NAMES,
  type OptionSource,
  optionSource,
  parseJobOptions,
  type RequestedJob,
} from './job-options.js';
import { type JobService, settleEach } from './job-service.js';
import { parsePayload, readTextBody } from './read-json-body.js';

export interface BatchDeps {
  jobs: JobService;
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

const ITEM_FIELDS = new Set<string>(['payload', 'idempotencyKey', ...OPTION_NAMES]);

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

function parseJsonItems(
  text: string,
  deps: BatchDeps,
  fallback: OptionSource,
): { items: BatchItem[]; problems: ItemProblem[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    throw new AppError(ErrorCode.INVALID_JSON, 'the request body is not valid JSON', { cause: error });
  }
  if (!Array.isArray(value))
    throw new AppError(ErrorCode.INVALID_BATCH, 'a JSON batch is an array of {"payload": …} items');
  if (value.length > deps.maxItems)
    throw new AppError(ErrorCode.INVALID_BATCH, `at most ${deps.maxItems} items per batch`);
  const items: BatchItem[] = [];
  const problems: ItemProblem[] = [];
  value.forEach((raw: unknown, index) => {
    try {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !('payload' in raw)) {
        throw new AppError(ErrorCode.INVALID_JOB, 'each item is an object with a payload');
      }
      const item = raw as Record<string, unknown>;
      const unknown = Object.keys(item).filter((key) => !ITEM_FIELDS.has(key));
      if (unknown.length > 0)
        throw new AppError(ErrorCode.INVALID_OPTION, `unknown item field(s): ${unknown.join(', ')}`);
      const payloadText = JSON.stringify(item.payload);
      parsePayload(payloadText, deps.maxJsonDepth);
      const key = checkIdempotencyKey(item.idempotencyKey);
      items.push({
        request: parseJobOptions(itemSource(item, fallback), deps.defaultOptions, deps.allowedTypes),
        text: payloadText,
        ...(key !== undefined ? { idempotencyKey: key } : {}),
      });
    } catch (error: unknown) {
      problems.push(problem(index, error));
    }
  });
  return { items, problems };
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
      parsePayload(line, deps.maxJsonDepth);
      items.push({ request, text: line });
    } catch (error: unknown) {
      problems.push(problem(index, error));
    }
  });
  return { items, problems };
}

export function batchRoute(deps: BatchDeps) {
  return async (ctx: Koa.Context): Promise<void> => {
    const body = await readTextBody(ctx.req, {
      limitBytes: deps.maxBytes,
      timeoutMs: deps.bodyTimeoutMs,
      accepted: ['application/json', 'application/x-ndjson'],
    });
    const fallback = optionSource(ctx.query, (name) => ctx.get(name));
    const { items, problems } =
      body.type === 'application/x-ndjson'
        ? parseNdjsonItems(body.text, deps, fallback)
        : parseJsonItems(body.text, deps, fallback);
    if (problems.length > 0) {
      ctx.status = 400;
      ctx.body = {
        error: {
          code: ErrorCode.INVALID_BATCH,
          message: `${problems.length} of ${problems.length + items.length} items are invalid; nothing was recorded`,
        },
        items: problems.slice(0, 100),
      };
      return;
    }
    if (items.length === 0) throw new AppError(ErrorCode.INVALID_BATCH, 'the batch has no items');
    const settled = await settleEach(items, (item) =>
      deps.jobs.accept(
        item.request,
        { text: item.text, bytes: Buffer.byteLength(item.text) },
        item.idempotencyKey,
      ),
    );
    let accepted = 0;
    const jobs = settled.map((outcome, index) => {
      if (outcome.status === 'fulfilled') {
        accepted += 1;
        const { replayed, ...job } = outcome.value;
        if (!replayed) deps.onAccepted?.(job.type);
        return { index, ...job, ...(replayed ? { replayed } : {}) };
      }
      const error = isAppError(outcome.reason)
        ? outcome.reason
        : new AppError(ErrorCode.INTERNAL, 'internal error');
      return { index, error: { code: error.code, message: error.message } };
    });
    ctx.status = accepted === items.length ? 202 : accepted === 0 ? 503 : 207;
    ctx.body = { accepted, failed: items.length - accepted, jobs };
  };
}
