/**
 * The handlers of `/types/{type}/retry-failed` and `/types/{type}/kick`: every failed or
 * buried job of a type at once (the logic: manager/jobs/bulk-actions.ts).
 */
import type { Context } from 'koa';
import { AppError, ErrorCode } from '../../../errors.js';
import type { createBulkActions } from '../../jobs/bulk-actions.js';
import { SteerLimitSchema } from '../schemas/type-schemas.js';
import { typeParam } from './pause.js';

/** `?limit=`: a whole number within SteerLimitSchema, given at most once. */
function limitParam(ctx: Context): number {
  const value = ctx.query.limit;
  if (value === undefined) return SteerLimitSchema.default;
  const n = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= SteerLimitSchema.minimum && n <= SteerLimitSchema.maximum)) {
    throw new AppError(
      ErrorCode.INVALID_QUERY,
      `limit must be a whole number from ${SteerLimitSchema.minimum} to ${SteerLimitSchema.maximum}, given once`,
    );
  }
  return n;
}

/** retryFailedJobs and kickBuriedJobs, by their route-table names. */
export function steerHandlers(actions: ReturnType<typeof createBulkActions>) {
  return {
    retryFailedJobs: async (ctx: Context) => {
      const type = typeParam(ctx);
      const limit = limitParam(ctx);
      ctx.body = { type, ...(await actions.retryFailed(type, limit)) };
    },
    kickBuriedJobs: async (ctx: Context) => {
      const type = typeParam(ctx);
      const limit = limitParam(ctx);
      ctx.body = { type, ...(await actions.kickBuried(type, limit)) };
    },
  };
}
