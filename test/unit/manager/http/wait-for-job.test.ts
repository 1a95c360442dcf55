/**
 * `GET /jobs/<id>?wait=N` handed over below Koa (http/handlers/wait-for-job.ts), over a real
 * socket, with a stand-in follower and job service: the middleware chain returns while the
 * request waits, and the answer written afterwards is the one Koa and the error boundary
 * would have written.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { silentLogger } from '../../../../src/log.js';
import { errorBoundary } from '../../../../src/manager/http/error-boundary.js';
import { type WaitDeps, waitForJob } from '../../../../src/manager/http/handlers/wait-for-job.js';
import type { WaitEnd } from '../../../../src/manager/jobs/completion-follower.js';
import { StoreUnavailableError } from '../../../../src/store/errors.js';
import { waitFor } from '../../../support/harness.js';

const ID = '01a20000-0000-7000-8000-000000000001';

type Read = () => Promise<{ id: string; state: string } | null>;

/** A follower whose one waiter the test ends, and a job service answering `reads` in turn. */
function standIns(reads: Read[]) {
  let end: (how: WaitEnd) => void = () => undefined;
  const state = { registered: 0, cancelled: 0, reads: 0, chainReturned: false };
  const follower = {
    register: async () => {
      state.registered += 1;
      let released = false;
      const until = new Promise<WaitEnd>((resolve) => {
        end = resolve;
      });
      return {
        until,
        // Idempotent, as the follower's is: counted once.
        cancel: () => {
          if (released) return;
          released = true;
          state.cancelled += 1;
          end('aborted');
        },
      };
    },
  };
  const jobs = {
    get: async () => {
      const read = reads[state.reads] ?? reads.at(-1);
      state.reads += 1;
      return read ? read() : null;
    },
  };
  const deps = { follower, jobs, log: silentLogger() } as unknown as WaitDeps;
  const app = new Koa();
  app.use(errorBoundary(silentLogger()));
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
    state.chainReturned = true;
  });
  app.use((ctx) => waitForJob(ctx, deps, { id: ID, payload: false, ms: 20_000 }));
  return { app, state, end: (how: WaitEnd) => end(how) };
}

async function listen(app: Koa): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(app.callback()).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const queued: Read = async () => ({ id: ID, state: 'queued' });
const completed: Read = async () => ({ id: ID, state: 'completed' });

describe('a waiting GET handed over below Koa (http/handlers/wait-for-job)', () => {
  it('when the job is not final, then the Koa chain returns while the request waits, and the wake is answered with the headers the chain set', async () => {
    const { app, state, end } = standIns([queued, completed]);
    const server = await listen(app);
    try {
      let answered = false;
      const answer = fetch(server.url).then((res) => {
        answered = true;
        return res;
      });
      await waitFor('the chain to return', async () => state.chainReturned);
      assert.equal(answered, false, 'not answered before the wake');
      assert.equal(state.reads, 1);
      end('ended');
      const res = await answer;
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(await res.json(), { id: ID, state: 'completed' });
      assert.equal(state.reads, 2, 'read once more after the wake');
      assert.equal(state.cancelled, 1, 'the waiter is released');
    } finally {
      await server.close();
    }
  });

  it('when the read after the wait fails, then it answers 503 STORE_UNAVAILABLE as the error boundary would', async () => {
    const { app, state, end } = standIns([
      queued,
      async () => {
        throw new StoreUnavailableError('down');
      },
    ]);
    const server = await listen(app);
    try {
      const answer = fetch(server.url);
      await waitFor('the chain to return', async () => state.chainReturned);
      end('timeout');
      const res = await answer;
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), null, 'an error is not marked no-store (as before)');
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'STORE_UNAVAILABLE');
    } finally {
      await server.close();
    }
  });

  it('when the job is gone by the read after the wait, then 404 NOT_FOUND', async () => {
    const { app, state, end } = standIns([queued, async () => null]);
    const server = await listen(app);
    try {
      const answer = fetch(server.url);
      await waitFor('the chain to return', async () => state.chainReturned);
      end('timeout');
      const res = await answer;
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    } finally {
      await server.close();
    }
  });

  it('when a HEAD waits, then its answer has the head a GET would have and no body', async () => {
    const { app, state, end } = standIns([queued, completed]);
    const server = await listen(app);
    try {
      const answer = fetch(server.url, { method: 'HEAD' });
      await waitFor('the chain to return', async () => state.chainReturned);
      end('ended');
      const res = await answer;
      assert.equal(res.status, 200);
      assert.equal(
        res.headers.get('content-length'),
        String(JSON.stringify({ id: ID, state: 'completed' }).length),
      );
      assert.equal(await res.text(), '');
    } finally {
      await server.close();
    }
  });

  it('when the client goes away while it waits, then its waiter is released and the job is not read again', async () => {
    const { app, state } = standIns([queued, completed]);
    const server = await listen(app);
    try {
      const leaving = new AbortController();
      const answer = fetch(server.url, { signal: leaving.signal }).catch(() => 'aborted');
      await waitFor('the chain to return', async () => state.chainReturned);
      leaving.abort();
      assert.equal(await answer, 'aborted');
      await waitFor('the waiter to be released', async () => state.cancelled === 1);
      assert.equal(state.reads, 1);
    } finally {
      await server.close();
    }
  });

  it('when the job is already final, then Koa answers it at once and nothing waits', async () => {
    const { app, state } = standIns([completed]);
    const server = await listen(app);
    try {
      const res = await fetch(server.url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await res.json(), { id: ID, state: 'completed' });
      assert.equal(state.cancelled, 1, 'the waiter is released before the answer');
    } finally {
      await server.close();
    }
  });
});
