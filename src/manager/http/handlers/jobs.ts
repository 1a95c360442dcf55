/** The handlers of `/jobs` (and the original `POST /`, `GET /{id}`): submit, read, list, steer. */
import type { Context } from 'koa';
import { AppError, ErrorCode } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { JobOptions, Store } from '../../../store/index.js';
import type { JobService } from '../../jobs/accept/accept.js';
import { batchRoute } from '../../jobs/accept/batch.js';
import { checkIdempotencyKey, optionSource, parseJobOptions } from '../../jobs/accept/options.js';
import type { createJobActions } from '../../jobs/actions.js';
import type { CompletionFollower } from '../../jobs/completion-follower.js';
import { parseListQuery } from '../../jobs/read/list-query.js';
import type { createJobListing } from '../../jobs/read/listing.js';
import { lookupOutcomes } from '../../jobs/read/outcomes.js';
import { readJsonBody } from '../read-json-body.js';
import { jobIdIn } from './job-id.js';
import { steerHandlers } from './steer.js';
import { waitForJob } from './wait-for-job.js';

/** What a submitted job (one, a batch, a matrix) is checked against, defaults resolved. */
export interface AcceptLimits {
  defaultOptions: JobOptions;
  /** JOB_TYPES; empty: the built-in ones. */
  allowedTypes: readonly string[];
  /** beanstalkd's max-job-size as last read from the server. */
  maxJobSize: () => number;
  maxJsonDepth: number;
  /** A request body must arrive within this. */
  bodyTimeoutMs: number;
  /** Refuse payloads holding a prototype key (FORBIDDEN_KEY). */
  forbidPrototypeKeys: boolean;
  /** A batch's or a matrix's number of jobs and payload bytes. */
  maxItems: number;
  maxBytes: number;
}

export interface JobHandlerDeps {
  jobs: JobService;
  actions: ReturnType<typeof createJobActions>;
  listing: ReturnType<typeof createJobListing>;
  store: Store;
  limits: AcceptLimits;
  /** Told about each newly accepted job (metrics). */
  onAccepted: (type: string) => void;
  /** Wakes a `GET ?wait=` when its job ends on any worker or manager. */
  follower: CompletionFollower;
  /** For the errors of waiting requests, answered outside Koa (wait-for-job.ts). */
  log: Logger;
}

/** Largest JSON envelope around a payload of zero bytes (id, type and keys). */
const ENVELOPE_OVERHEAD = 128;

/** Longest `?wait=` in seconds. */
export const MAX_WAIT_SECONDS = 60;

/** GET's `?wait=`: whole seconds from 0 to 60 (0: no wait); anything else, or twice, is INVALID_QUERY. */
function waitSeconds(ctx: Context): number {
  const value = ctx.query.wait;
  if (value === undefined) return 0;
  if (typeof value !== 'string' || !/^\d{1,2}$/.test(value) || Number(value) > MAX_WAIT_SECONDS)
    throw new AppError(
      ErrorCode.INVALID_QUERY,
      `wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}, given once`,
    );
  return Number(value);
}

/** GET's `?payload=`: `true` (the default) or `false`; anything else, or twice, is INVALID_QUERY. */
function wantsPayload(ctx: Context): boolean {
  const value = ctx.query.payload;
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new AppError(ErrorCode.INVALID_QUERY, 'payload must be true or false, given once');
}

/**
 * postJob, getJob, postBatch, cancelJob, retryJob, listJobs and lookupOutcomes, by their
 * route-table names; and retryFailedJobs and kickBuriedJobs (steer.ts), which use the same actions.
 */
export function jobHandlers(deps: JobHandlerDeps) {
  const { jobs, actions, listing, limits } = deps;
  return {
    postJob: async (ctx: Context) => {
      const key = checkIdempotencyKey(ctx.get('Idempotency-Key'));
      const body = await readJsonBody(ctx.req, {
        limitBytes: Math.max(1, limits.maxJobSize() - ENVELOPE_OVERHEAD),
        maxDepth: limits.maxJsonDepth,
        timeoutMs: limits.bodyTimeoutMs,
        forbidPrototypeKeys: limits.forbidPrototypeKeys,
      });
      const requested = parseJobOptions(
        optionSource(ctx.query, (name) => ctx.get(name)),
        limits.defaultOptions,
        limits.allowedTypes,
      );
      const { replayed, ...accepted } = await jobs.accept(requested, body, key);
      if (!replayed) deps.onAccepted(accepted.type);
      ctx.status = replayed ? 200 : 202;
      if (replayed) ctx.set('Idempotent-Replayed', 'true');
      ctx.set('Location', `/jobs/${accepted.id}`);
      ctx.body = accepted;
    },
    getJob: async (ctx: Context) => {
      const id = jobIdIn(ctx);
      const payload = wantsPayload(ctx);
      const wait = waitSeconds(ctx);
      // A waiting request is answered outside Koa once it waits (wait-for-job.ts).
      if (wait > 0) return waitForJob(ctx, deps, { id, payload, ms: wait * 1000 });
      const view = await jobs.get(id, { payload });
      if (view === null) throw new AppError(ErrorCode.NOT_FOUND, `no job ${id}`);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = view;
    },
    postBatch: batchRoute({ jobs, store: deps.store, ...limits, onAccepted: deps.onAccepted }),
    cancelJob: async (ctx: Context) => {
      ctx.body = await actions.cancel(jobIdIn(ctx));
    },
    retryJob: async (ctx: Context) => {
      ctx.status = 202;
      ctx.body = await actions.retry(jobIdIn(ctx));
    },
    listJobs: async (ctx: Context) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await listing.list(parseListQuery(ctx.query));
    },
    lookupOutcomes: async (ctx: Context) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await lookupOutcomes(ctx.req, deps.store, limits.bodyTimeoutMs);
    },
    // A type's failed and buried jobs at once, over the same actions (steer.ts).
    ...steerHandlers(actions),
  };
}
