/**
 * The `:id` path parameter (`/jobs/{id}`, `/jobs/{id}/retry`, `/groups/{id}` and the original
 * `GET /{id}`), parsed once by `router.param` before the route's handler runs, so a malformed
 * id is INVALID_ID before any backend is touched.
 */
import type { RouterParameterMiddleware } from '@koa/router';
import type { Context } from 'koa';
import { AppError, ErrorCode } from '../../../errors.js';
import { parseJobId } from '../../../jobs/job-id.js';

/**
 * The `router.param('id', …)` middleware: the parsed id goes into ctx.state.jobId. A param
 * middleware runs before the route's own, which sets ctx.state.route: a refused id sets it
 * here from the route table (the router names each route by its operationId), so it is still
 * counted under its route in the HTTP metrics.
 */
export function parseIdParam(routes: readonly { operationId: string; path: string }[]) {
  const parse: RouterParameterMiddleware = (value, ctx, next) => {
    const id = parseJobId(value);
    if (id === null) {
      ctx.state.route = routes.find((route) => route.operationId === ctx.routerName)?.path;
      throw new AppError(
        ErrorCode.INVALID_ID,
        'a job id is a UUIDv7 such as 0193b5a0-7c1e-7d3a-9f1e-2b4c6d8e0a1b',
      );
    }
    ctx.state.jobId = id;
    return next();
  };
  return parse;
}

/** The id parseIdParam left for this request; only routes with an `{id}` have one. */
export function jobIdIn(ctx: Context): string {
  const { jobId } = ctx.state as { jobId?: unknown };
  if (typeof jobId !== 'string') throw new Error(`no parsed :id on ${ctx.method} ${ctx.path}`);
  return jobId;
}
