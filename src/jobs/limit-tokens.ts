/**
 * A limited job type's tokens in beanstalkd, owned here alone (docs/limits-design.md): the two
 * token tubes' names, a token's body and put options, and the reconcile that makes each tube
 * hold what the stored limits say — `concurrency` run tokens and `burst` rate tokens. The
 * manager's maintenance pass reconciles every type each pass, and the manager serving a
 * `PUT`/`DELETE /types/<type>/limits` reconciles that type at once.
 */
import type { Logger } from '../log.js';
import { isQueueError, type QueueClient, QueueErrorCode, TOKEN_PRIORITY } from '../queue/index.js';
import type { Limits, TypeLimitsDocument } from '../store/index.js';
import type { TypeLimits } from './type-limits.js';

export type TokenKind = 'run' | 'rate';

/**
 * The token tubes' common start, after the tube prefix. Like the webhook tube (`_webhooks`) it
 * starts with `_`, and a job type starts with a letter, so no job type's tube is a token tube
 * and jobs/queue-copy.ts `typeOfTube` reads no type from one.
 */
export const TOKEN_TUBE_START = '_tokens.';

/** `<prefix>_tokens.run.<type>` or `<prefix>_tokens.rate.<type>`: the one place they are named. */
export function tokenTube(prefix: string, kind: TokenKind, type: string): string {
  return `${prefix}${TOKEN_TUBE_START}${kind}.${type}`;
}

/** The type and kind of a token tube (tokenTube read back), or null for any other tube. */
export function tokenTubeOf(tube: string, prefix: string): { kind: TokenKind; type: string } | null {
  const start = `${prefix}${TOKEN_TUBE_START}`;
  if (!tube.startsWith(start)) return null;
  const match = /^(run|rate)\.([a-z][a-z0-9_-]{0,62})$/.exec(tube.slice(start.length));
  return match ? { kind: match[1] as TokenKind, type: match[2] as string } : null;
}

/**
 * A token's TTR. A worker holds a run token while its job's handler runs and touches it every
 * TOKEN_TOUCH_MS; a dead worker's tokens come back when its connection closes. A worker that
 * is frozen with its connection open keeps them until beanstalkd times them out — which
 * beanstalkd 1.12 may never do (docs/facts.md) — so this is no guarantee, only the usual case.
 */
export const TOKEN_TTR_SECONDS = 300;
/** How often a worker touches the run tokens it holds: well inside TOKEN_TTR_SECONDS. */
export const TOKEN_TOUCH_MS = 60_000;

/** A token's body: nothing reads it but a person looking at the tube. */
export function tokenBody(kind: TokenKind, type: string): string {
  return JSON.stringify({ token: kind, type });
}

/** How many tokens a tube should hold under these limits (none once the limit is gone). */
export function wantedTokens(limits: TypeLimits | null, kind: TokenKind): number {
  if (!limits) return 0;
  return kind === 'run'
    ? (limits.concurrency ?? 0)
    : limits.ratePerSecond === undefined
      ? 0
      : (limits.burst ?? limits.ratePerSecond);
}

/** A token tube's jobs by state (a tube that does not exist holds none). */
export interface TokenCounts {
  ready: number;
  reserved: number;
  delayed: number;
  buried: number;
}

export async function countTokens(queue: QueueClient, tube: string): Promise<TokenCounts> {
  try {
    const stats = await queue.statsTube(tube);
    return {
      ready: stats.currentJobsReady,
      reserved: stats.currentJobsReserved,
      delayed: stats.currentJobsDelayed,
      buried: stats.currentJobsBuried,
    };
  } catch (error: unknown) {
    if (isQueueError(error, QueueErrorCode.NOT_FOUND))
      return { ready: 0, reserved: 0, delayed: 0, buried: 0 };
    throw error;
  }
}

const total = (c: TokenCounts) => c.ready + c.reserved + c.delayed + c.buried;

/** What one tube's reconcile did. */
export interface TubeReconcile {
  tube: string;
  wanted: number;
  put: number;
  removed: number;
  /** After the reconcile: reserved ones above `wanted` are removed by a later pass, once given back. */
  counts: TokenCounts;
}

/**
 * Deletes up to `surplus` tokens that nobody holds: buried, then ready, then delayed (any
 * connection may delete those by id). A reserved token cannot be deleted by anyone but its
 * holder: it is removed by a later pass, once given back.
 */
async function removeSurplus(queue: QueueClient, tube: string, surplus: number): Promise<number> {
  let removed = 0;
  // Each try finds a token or a state with none; a token reserved between peek and delete is
  // NOT_FOUND and the next try peeks again: bounded, so a busy tube cannot keep us here.
  for (let tries = 0; removed < surplus && tries < surplus * 3 + 3; tries += 1) {
    const next =
      (await queue.peekBuried(tube)) ??
      (await queue.peekNext(tube, 'ready')) ??
      (await queue.peekNext(tube, 'delayed'));
    if (!next) break;
    try {
      await queue.deleteJob(next.id);
      removed += 1;
    } catch (error: unknown) {
      if (!isQueueError(error, QueueErrorCode.NOT_FOUND)) throw error;
    }
  }
  return removed;
}

/**
 * Makes one token tube hold `wanted` tokens: puts the missing ones (ready at once: after a
 * change the whole burst is there), then counts again and removes any surplus — another
 * manager reconciling at the same moment may have put the same ones. Removing too many only
 * leaves the tube short until the next pass, which is on the safe side of the limit.
 */
export async function reconcileTube(
  queue: QueueClient,
  tube: string,
  kind: TokenKind,
  type: string,
  wanted: number,
): Promise<TubeReconcile> {
  let counts = await countTokens(queue, tube);
  let put = 0;
  if (total(counts) < wanted) {
    const body = tokenBody(kind, type);
    const missing = wanted - total(counts);
    const options = { priority: TOKEN_PRIORITY, delay: 0, ttr: TOKEN_TTR_SECONDS };
    await Promise.all(Array.from({ length: missing }, () => queue.put(tube, body, options)));
    put = missing;
    counts = await countTokens(queue, tube);
  }
  let removed = 0;
  if (total(counts) > wanted) {
    removed = await removeSurplus(queue, tube, total(counts) - wanted);
    if (removed > 0) counts = await countTokens(queue, tube);
  }
  return { tube, wanted, put, removed, counts };
}

export function limitsOf(doc: TypeLimitsDocument | null): TypeLimits | null {
  if (!doc) return null;
  return {
    ...(doc.ratePerSecond !== undefined
      ? { ratePerSecond: doc.ratePerSecond, burst: doc.burst ?? doc.ratePerSecond }
      : {}),
    ...(doc.concurrency !== undefined ? { concurrency: doc.concurrency } : {}),
  };
}

/** Both token tubes of a type made to match `limits` (null: the type has none: emptied). */
export async function reconcileTypeTokens(
  queue: QueueClient,
  prefix: string,
  type: string,
  limits: TypeLimits | null,
): Promise<Record<TokenKind, TubeReconcile>> {
  const run = await reconcileTube(
    queue,
    tokenTube(prefix, 'run', type),
    'run',
    type,
    wantedTokens(limits, 'run'),
  );
  const rate = await reconcileTube(
    queue,
    tokenTube(prefix, 'rate', type),
    'rate',
    type,
    wantedTokens(limits, 'rate'),
  );
  return { run, rate };
}

/**
 * The maintenance pass's part: every limited type (the `type_limits` documents) and every type
 * that still has token tubes (its limits were removed, or a reserved surplus came back) is
 * reconciled. Answers how many tokens were put and removed.
 */
export async function reconcileAllTokens(deps: {
  queue: QueueClient;
  store: Pick<Limits, 'listTypeLimits'>;
  tubePrefix: string;
  log: Logger;
}): Promise<{ types: number; put: number; removed: number }> {
  const { queue, tubePrefix, log } = deps;
  const docs = await deps.store.listTypeLimits();
  const limits = new Map(docs.map((doc) => [doc._id, limitsOf(doc)] as const));
  const types = new Set(limits.keys());
  for (const tube of await queue.listTubes()) {
    const found = tokenTubeOf(tube, tubePrefix);
    if (found) types.add(found.type);
  }
  let put = 0;
  let removed = 0;
  for (const type of [...types].sort()) {
    const done = await reconcileTypeTokens(queue, tubePrefix, type, limits.get(type) ?? null);
    const changed = done.run.put + done.rate.put + done.run.removed + done.rate.removed;
    if (changed > 0) {
      log.info(
        {
          type,
          runTokens: { wanted: done.run.wanted, put: done.run.put, removed: done.run.removed },
          rateTokens: { wanted: done.rate.wanted, put: done.rate.put, removed: done.rate.removed },
        },
        'limit tokens reconciled',
      );
    }
    put += done.run.put + done.rate.put;
    removed += done.run.removed + done.rate.removed;
  }
  return { types: types.size, put, removed };
}
