/** The handlers of `/types/{type}`: pause a job type's tube for a while, or resume it. */
import type { Context } from 'koa';
import { AppError, ErrorCode } from '../../../errors.js';
import { JOB_TYPE } from '../../../handlers/index.js';
import { tubeName } from '../../../jobs/queue-copy.js';
import type { Logger } from '../../../log.js';
import type { QueueSet } from '../../../queue/index.js';

export interface PauseHandlerDeps {
  queue: QueueSet;
  log: Logger;
  tubePrefix: string;
}

/** The longest pause beanstalkd is asked for: 30 days. */
const MAX_PAUSE_SECONDS = 2_592_000;

/** The `{type}` of a `/types/{type}/…` path, or 400 INVALID_QUERY when it is not a job type. */
export function typeParam(ctx: Context): string {
  const type: unknown = ctx.params.type;
  if (typeof type !== 'string' || !JOB_TYPE.test(type))
    throw new AppError(ErrorCode.INVALID_QUERY, 'not a job type');
  return type;
}

/** pauseType and resumeType, by their route-table names. */
export function pauseHandlers(deps: PauseHandlerDeps) {
  const pause = async (type: string, seconds: number) => {
    // Every server: a type's jobs may be on any of them.
    await Promise.all(
      deps.queue.servers.map((server) => server.pauseTube(tubeName(deps.tubePrefix, type), seconds)),
    );
    deps.log.info({ type, seconds }, seconds > 0 ? 'type paused' : 'type resumed');
    return { type, paused: seconds > 0, seconds };
  };
  return {
    pauseType: async (ctx: Context) => {
      const seconds = ctx.query.seconds;
      if (
        typeof seconds !== 'string' ||
        !/^\d{1,7}$/.test(seconds) ||
        Number(seconds) < 1 ||
        Number(seconds) > MAX_PAUSE_SECONDS
      ) {
        throw new AppError(ErrorCode.INVALID_QUERY, 'seconds must be an integer from 1 to 2592000 (30 days)');
      }
      ctx.body = await pause(typeParam(ctx), Number(seconds));
    },
    resumeType: async (ctx: Context) => {
      ctx.body = await pause(typeParam(ctx), 0);
    },
  };
}
