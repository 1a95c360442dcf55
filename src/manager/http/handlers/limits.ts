/**
 * The handlers of `/types/{type}/limits` (docs/limits-design.md): a type's rate and
 * concurrency limits, stored in `type_limits` by `_id`, and its tokens in beanstalkd made to
 * match them at once by the manager that served the change (the maintenance pass does it
 * again every pass).
 */
import type { Context } from 'koa';
import { AppError, ErrorCode } from '../../../errors.js';
import { countTokens, limitsOf, reconcileTypeTokens, tokenTube } from '../../../jobs/limit-tokens.js';
import { limitsAnswer, parseLimits } from '../../../jobs/type-limits.js';
import type { Logger } from '../../../log.js';
import type { QueueSet } from '../../../queue/index.js';
import type { Limits, TypeLimitsDocument } from '../../../store/index.js';
import { readJsonBody } from '../read-json-body.js';
import { typeParam } from './pause.js';

export interface LimitHandlerDeps {
  /** The limits' token tubes live on the set's home server (docs/limits-design.md). */
  queue: QueueSet;
  store: Limits;
  log: Logger;
  tubePrefix: string;
  /** A request body must arrive within this. */
  bodyTimeoutMs: number;
}

/** Far more than `{"rate_per_second":10000,"burst":10000,"concurrency":10000}` needs. */
const LIMIT_BYTES = 1024;

/** getTypeLimits, putTypeLimits and deleteTypeLimits, by their route-table names. */
export function limitHandlers(deps: LimitHandlerDeps) {
  const { store, tubePrefix } = deps;
  const queue = deps.queue.home;

  async function answer(type: string, doc: TypeLimitsDocument | null) {
    const [run, rate] = await Promise.all([
      countTokens(queue, tokenTube(tubePrefix, 'run', type)),
      countTokens(queue, tokenTube(tubePrefix, 'rate', type)),
    ]);
    const limits = limitsOf(doc);
    return {
      type,
      limits: limits ? limitsAnswer(limits) : null,
      ...(doc ? { updated_at: doc.updatedAt.toISOString() } : {}),
      tokens: { run, rate },
    };
  }

  async function readLimits(ctx: Context) {
    let value: unknown;
    try {
      value = (
        await readJsonBody(ctx.req, {
          limitBytes: LIMIT_BYTES,
          maxDepth: 2,
          timeoutMs: deps.bodyTimeoutMs,
          // Only three known fields are read; any other key is refused by parseLimits.
          forbidPrototypeKeys: false,
        })
      ).value;
    } catch (error: unknown) {
      // readJsonBody speaks of job payloads; here a non-object is a malformed limits body.
      if (error instanceof AppError && error.code === ErrorCode.INVALID_JOB) {
        throw new AppError(
          ErrorCode.INVALID_LIMITS,
          'send a JSON object: {"rate_per_second"?, "burst"?, "concurrency"?}',
        );
      }
      throw error;
    }
    const parsed = parseLimits(value);
    if ('error' in parsed) throw new AppError(ErrorCode.INVALID_LIMITS, parsed.error);
    return parsed;
  }

  return {
    getTypeLimits: async (ctx: Context) => {
      const type = typeParam(ctx);
      ctx.body = await answer(type, await store.findTypeLimits(type));
    },
    putTypeLimits: async (ctx: Context) => {
      const type = typeParam(ctx);
      const limits = await readLimits(ctx);
      const doc: TypeLimitsDocument = { _id: type, ...limits, updatedAt: new Date() };
      await store.saveTypeLimits(doc);
      // The tokens now, so that the limits hold as soon as workers read them (a couple of
      // seconds); beanstalkd down: the next maintenance pass makes them (and this answers 503).
      const done = await reconcileTypeTokens(queue, tubePrefix, type, limits);
      deps.log.info(
        { type, limits, runTokensPut: done.run.put, rateTokensPut: done.rate.put },
        'type limits set',
      );
      ctx.body = await answer(type, doc);
    },
    deleteTypeLimits: async (ctx: Context) => {
      const type = typeParam(ctx);
      const had = await store.deleteTypeLimits(type);
      // Free tokens go now; those workers hold go once given back, on a later pass.
      const done = await reconcileTypeTokens(queue, tubePrefix, type, null);
      if (had) {
        deps.log.info({ type, tokensRemoved: done.run.removed + done.rate.removed }, 'type limits removed');
      }
      ctx.body = await answer(type, null);
    },
  };
}
