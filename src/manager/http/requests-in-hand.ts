/**
 * The requests the app is answering, so that the manager's stop can wait for them. Closing the
 * HTTP server waits for connections, not for work: a client that leaves mid-request closes its
 * connection while the request's accept goes on, and closing beanstalkd and MongoDB under it
 * would leave a recorded job unqueued (found by bench/post-features.ts, whose load generator
 * leaves with requests in flight). Requests that answer on their own (`ctx.respond = false`:
 * long-polls, event streams) leave the chain early and are not counted.
 *
 * Once `close()` is called, every answer closes its connection: Node's `server.close()` never
 * ends a kept-alive connection whose client keeps sending requests (checked on Node 20: a
 * client looping on one connection kept a closed server open for as long as it ran).
 */
import type { Middleware } from 'koa';

export class RequestsInHand {
  #count = 0;
  #idle: Array<() => void> = [];
  #closing = false;

  /** Requests in the middleware chain now. */
  get count(): number {
    return this.#count;
  }

  /** From now on, each answer closes its connection (`Connection: close`). */
  close(): void {
    this.#closing = true;
  }

  /** Counts each request from its arrival until the chain has answered it, whatever the answer. */
  middleware(): Middleware {
    return async (ctx, next) => {
      this.#count += 1;
      try {
        await next();
      } finally {
        // After the chain, before Koa writes the answer; an answer already handed over is not Koa's.
        if (this.#closing && ctx.respond !== false && !ctx.headerSent) ctx.set('Connection', 'close');
        this.#count -= 1;
        if (this.#count === 0) for (const resolve of this.#idle.splice(0)) resolve();
      }
    };
  }

  /** True once no request is in hand; false if some still are after `timeoutMs`. */
  settled(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#idle = this.#idle.filter((waiter) => waiter !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idle.push(done);
    });
  }
}
