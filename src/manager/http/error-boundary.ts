/**
 * The one error boundary: first in the chain, turns every error into
 * `{"error":{"code","message"}}` with the status its code maps to. Only unexpected errors
 * (500) are logged with their stack; 503s are logged as warnings; client mistakes not at all.
 */
import type { Context, Next } from 'koa';
import { AppError, ErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import { toAppError } from '../error-answers.js';

function send(ctx: Context, error: AppError): void {
  ctx.status = error.status;
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  ctx.body = { error: { code: error.code, message: error.message } };
}

export function errorBoundary(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 405) {
          const allow = ctx.response.get('Allow');
          send(
            ctx,
            new AppError(ErrorCode.METHOD_NOT_ALLOWED, `${ctx.method} is not allowed here; use ${allow}`, {
              headers: { Allow: allow },
            }),
          );
        } else if (ctx.status === 404) {
          send(ctx, new AppError(ErrorCode.NOT_FOUND, `no route for ${ctx.method} ${ctx.path}`));
        } else if (ctx.status === 501) {
          send(
            ctx,
            new AppError(ErrorCode.METHOD_NOT_ALLOWED, `${ctx.method} is not supported`, {
              headers: { Allow: ctx.response.get('Allow') },
            }),
          );
        }
      }
    } catch (error: unknown) {
      const answer = toAppError(error);
      if (answer.code === ErrorCode.INTERNAL) {
        log.error({ err: error, method: ctx.method, path: ctx.path }, 'unexpected error');
      } else if (answer.status >= 500) {
        // Backend outages are logged once per state change by the health watchers, not per request.
        log.debug({ code: answer.code, err: answer.cause ?? answer, path: ctx.path }, answer.message);
      }
      send(ctx, answer);
    }
  };
}
