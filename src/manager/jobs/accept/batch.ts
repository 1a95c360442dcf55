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
import { AppError, ErrorCode } from '../../../errors.js';
import type { Groups } from '../../../store/index.js';
import { toAppError } from '../../error-answers.js';
import { acceptCompletion } from '../../groups/on-complete.js';
import { readTextBody, tooDeep, tooDeepElements } from '../../http/read-json-body.js';
import type { JobService } from './accept.js';
import {
  type BatchGroup,
  type BatchItem,
  type BatchItemRules,
  ITEM_LEVELS,
  type ItemProblem,
  parseJsonItems,
  parseNdjsonItems,
} from './batch-items.js';
import { optionSource } from './options.js';

export interface BatchDeps extends BatchItemRules {
  jobs: JobService;
  /** Where a batch with `on_complete` keeps its group (groups/on-complete.ts). */
  store: Pick<Groups, 'indexGroup' | 'insertGroup'>;
  maxBytes: number;
  bodyTimeoutMs: number;
  /** Told about each newly accepted job (metrics). */
  onAccepted?: (type: string) => void;
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
