/**
 * `GET /jobs/<id>?wait=N` (docs/completion-design.md, Long-poll). Koa does everything up to the
 * wait: authentication, the rate limit, the query's checks, registering the waiter, the first
 * read and any error so far. A request that must wait is then handed over: Koa's middleware
 * chain returns (`ctx.respond = false`), and what is held while it waits is the socket, the
 * waiter's entry and one closure — not a suspended frame per middleware, which cost a waiting
 * request about half of its memory (docs/performance.md, Long-poll). Its answer is written
 * here, as Koa and the error boundary would write it.
 */
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { AppError, ErrorCode } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { toAppError } from '../../error-answers.js';
import type { JobService } from '../../jobs/accept/accept.js';
import type { CompletionFollower } from '../../jobs/completion-follower.js';

/** A job in one of these states answers a wait at once. */
const FINAL_STATES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

type Waiter = NonNullable<Awaited<ReturnType<CompletionFollower['register']>>>;
type View = NonNullable<Awaited<ReturnType<JobService['get']>>>;

export interface WaitDeps {
  jobs: JobService;
  follower: CompletionFollower;
  log: Logger;
}

/**
 * Where a handed-over answer leaves (`ctx.state.answered`): resolves with its status once it
 * is written, or once the client is gone. The HTTP metrics time the request until then.
 */
export type Answered = Promise<number>;

/**
 * Answers `GET /jobs/<id>?wait=<ms / 1000>`: at once (through Koa) when the job is unknown or
 * final, else after a wake or the deadline (here, outside Koa). A client that goes away, at any
 * point, frees its waiter at once.
 */
export async function waitForJob(
  ctx: Context,
  deps: WaitDeps,
  request: { id: string; payload: boolean; ms: number },
): Promise<void> {
  const res = ctx.res;
  let waiter: Waiter | null = null;
  let gone = false;
  const onClose = () => {
    gone = true;
    waiter?.cancel();
  };
  res.once('close', onClose);
  let view: View | null;
  try {
    // Registered before the first read: an end after it is in a notice the follower reads.
    waiter = await deps.follower.register(request.id, request.ms);
    if (!waiter)
      throw new AppError(ErrorCode.TOO_MANY_WAITERS, 'too many requests are waiting; try again', {
        headers: { 'Retry-After': '1' },
      });
    if (gone) waiter.cancel();
    view = await deps.jobs.get(request.id, { payload: request.payload });
  } catch (error: unknown) {
    waiter?.cancel();
    res.off('close', onClose);
    throw error;
  }
  if (gone || view === null || FINAL_STATES.has(view.state)) {
    waiter.cancel();
    res.off('close', onClose);
    if (view === null) throw new AppError(ErrorCode.NOT_FOUND, `no job ${request.id}`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = view;
    return;
  }
  // Handed over: Koa neither answers nor waits; the status is set for the error boundary.
  ctx.status = 200;
  ctx.respond = false;
  const where = { method: ctx.method, path: ctx.path };
  const answered: Answered = answerLater(res, waiter, deps, request, where).finally(() =>
    res.off('close', onClose),
  );
  ctx.state.answered = answered;
}

/** Waits for the wake or the deadline, reads the job again and writes the answer. */
async function answerLater(
  res: ServerResponse,
  waiter: Waiter,
  deps: WaitDeps,
  request: { id: string; payload: boolean },
  where: { method: string; path: string },
): Answered {
  let status = 200;
  let body: unknown;
  const headers: Record<string, string> = {};
  try {
    if ((await waiter.until) === 'aborted') return status;
    const view = await deps.jobs.get(request.id, { payload: request.payload });
    // Gone since the first read (retention, or a delete).
    if (view === null) throw new AppError(ErrorCode.NOT_FOUND, `no job ${request.id}`);
    headers['Cache-Control'] = 'no-store';
    body = view;
  } catch (error: unknown) {
    // As the error boundary answers and logs it.
    const answer = toAppError(error);
    if (answer.code === ErrorCode.INTERNAL) deps.log.error({ err: error, ...where }, 'unexpected error');
    else if (answer.status >= 500)
      deps.log.debug({ code: answer.code, err: answer.cause ?? answer, path: where.path }, answer.message);
    status = answer.status;
    Object.assign(headers, answer.headers);
    body = { error: { code: answer.code, message: answer.message } };
  } finally {
    waiter.cancel();
  }
  if (res.destroyed || res.writableEnded) return status;
  // The manager is stopping (the follower ended the wait): the connection goes with the answer.
  if (deps.follower.closed) headers.Connection = 'close';
  const text = JSON.stringify(body);
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  // A HEAD gets the head a GET would have (as Koa answers it).
  res.end(where.method === 'HEAD' ? undefined : text);
  return status;
}
