/**
 * Failures, retries, cancel, long jobs, idempotency, the reconciler and retention, on real
 * servers with in-process workers. Each test checks the HTTP answer, MongoDB and beanstalkd.
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers, type Handler, hashPayload } from '../../src/handlers/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/jobs/envelope.js';
import { newJobId } from '../../src/jobs/job-id.js';
import { startBackgroundPasses } from '../../src/manager/background/background-passes.js';
import { createReconciler } from '../../src/manager/background/reconciler.js';
import { hashIdempotencyKey } from '../../src/manager/jobs/accept/idempotency.js';
import { queueLocation } from '../../src/manager/jobs/read/queue-location.js';
import type { QueueLocation, Store } from '../../src/store/index.js';
import { backoffSeconds } from '../../src/worker/run-job.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, beanstalkRaw, startTcpProxy, tubeCounts, waitFor, withMongo } from '../support/harness.js';

function capturingLogger() {
  const records: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line)) });
  return { log, records };
}

/**
 * A handler that fails while `failing` is true, and counts its calls. Like the built-in hash
 * handler it honours the job's `algorithm` parameter, so a copy that lost it shows.
 */
function switchableHandler() {
  const state = { failing: true, calls: 0 };
  const handler: Handler = async (_payload, context) => {
    state.calls += 1;
    if (state.failing) throw new Error(`boom ${context.attempt}`);
    const algorithm = String(context.params.algorithm ?? 'md5');
    return { algorithm, hash: hashPayload(context.rawPayload, algorithm) };
  };
  return { state, handler };
}

/** Where a job's newest beanstalkd copy was put, as the manager finds it. */
async function locate(store: Store, id: string): Promise<QueueLocation> {
  // A record-first accept answers before its queue reference lands.
  return waitFor(`job ${id}'s queue location`, async () => {
    const [job, ref] = await Promise.all([store.findJob(id), store.findQueueRef(id)]);
    return queueLocation(job, ref) ?? undefined;
  });
}

/** A copy as beanstalkd holds it, read with raw commands: its stats-job fields and its envelope. */
async function rawCopy(port: number, beanstalkId: string) {
  const stats = await beanstalkRaw(port, `stats-job ${beanstalkId}`);
  assert.equal(stats.reply.startsWith('OK'), true, `stats-job ${beanstalkId}: ${stats.reply}`);
  const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(stats.body ?? '')?.[1];
  const peeked = await beanstalkRaw(port, `peek ${beanstalkId}`);
  return {
    state: field('state'),
    priority: Number(field('pri')),
    delay: Number(field('delay')),
    ttr: Number(field('ttr')),
    reserves: Number(field('reserves')),
    timeouts: Number(field('timeouts')),
    timeLeft: Number(field('time-left')),
    envelope: decodeEnvelope(peeked.body ?? ''),
  };
}

/** A reconciler over the fixture's servers that judges every job, however young. */
function reconcilerFor(f: AppFixture) {
  return createReconciler({
    queue: f.queues,
    store: f.store,
    log: pino({ level: 'silent' }),
    tubePrefix: f.tubePrefix,
    graceMs: 0,
  });
}

describe('reliability on real servers', function () {
  this.timeout(60_000);
  let f: AppFixture;
  let port: number;
  const workers: RunningWorker[] = [];

  const configFor = (extra: Record<string, string> = {}) =>
    loadWorkerConfig({
      ...workerEnvFor(f),
      WORKER_CONCURRENCY: '2',
      WORKER_NAME: 'rel',
      ...extra,
    });
  const start = async (handlers: Map<string, Handler>, extra: Record<string, string> = {}) => {
    const { log, records } = capturingLogger();
    const worker = await startWorker(configFor(extra), { handlers, log });
    workers.push(worker);
    return { worker, records };
  };
  const post = async (body: string, headers: Record<string, string> = {}) => {
    const res = await request(f.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json')
      .set(headers)
      .send(body);
    return res;
  };
  const view = async (id: string) => (await request(f.app.callback()).get(`/jobs/${id}`)).body;
  const stateIs = (id: string, state: string) => async () => {
    const v = await view(id);
    return v.state === state ? v : undefined;
  };

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(async () => {
    f = await appFixture({ label: 'rel', maxAttempts: 3 });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
    await f.close();
  });

  it('when backoff is computed, then it doubles from the base, is capped, and rounds up to seconds', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffSeconds(attempt, 1000, 10_000)),
      [1, 2, 4, 8, 10, 10, 10],
    );
    assert.equal(backoffSeconds(1, 300, 60_000), 1);
    assert.equal(backoffSeconds(3, 0, 60_000), 0);
  });

  it('when a handler keeps failing, then it is retried with growing delays, then buried with a failed outcome and every error kept', async () => {
    const { handler } = switchableHandler();
    await start(new Map([['hash', handler]]), { WORKER_RETRY_BASE_MS: '1000' });
    const { body } = await post('{"poison":1}');
    const failed = await waitFor('the failed outcome', stateIs(body.id, 'failed'), 30_000);
    assert.equal(failed.attempts, 3);
    assert.equal(failed.maxAttempts, 3);
    assert.deepEqual(failed.error, { message: 'boom 3' });
    assert.deepEqual(
      failed.errors.map((e: { attempt: number; error: string }) => [e.attempt, e.error]),
      [
        [1, 'boom 1'],
        [2, 'boom 2'],
        [3, 'boom 3'],
      ],
    );
    const times = failed.errors.map((e: { at: string }) => Date.parse(e.at));
    // beanstalkd delays count whole seconds: at least ~1 s, then ~2 s between attempts.
    assert.ok(times[1] - times[0] >= 900, `first backoff ${times[1] - times[0]} ms`);
    assert.ok(times[2] - times[1] >= 1900, `second backoff ${times[2] - times[1]} ms`);
    // The copy is buried once the failed outcome is counted (a tally commit, a moment later).
    const counts = await waitFor('the copy to be buried', async () => {
      const now = await tubeCounts(port, f.tube);
      return now.reserved === 0 ? now : undefined;
    });
    assert.equal(counts.buried, 1, 'kept buried for a retry');
    assert.equal(counts.ready + counts.delayed + counts.reserved, 0);
  });

  it('when a failed job is retried, then it runs again with a full budget and completes; retrying it again is a 409', async () => {
    const { state, handler } = switchableHandler();
    await start(new Map([['hash', handler]]), { WORKER_RETRY_BASE_MS: '0' });
    const body = '{"retry":"me"}';
    const { body: accepted } = await post(body);
    await waitFor('the failed outcome', stateIs(accepted.id, 'failed'));
    await waitFor('the copy to be buried', async () => (await tubeCounts(port, f.tube)).buried === 1);
    state.failing = false;
    const retried = await request(f.app.callback()).post(`/jobs/${accepted.id}/retry`);
    assert.equal(retried.status, 202);
    assert.deepEqual(retried.body, { id: accepted.id, state: 'queued' });
    const done = await waitFor('completion after the retry', stateIs(accepted.id, 'completed'));
    assert.equal(done.result.hash, hashPayload(body));
    assert.equal(done.attempts, 1, 'a fresh copy: a new attempt budget');
    assert.equal(done.errors.length, 3, 'the earlier failures are still shown');
    // The completed copy leaves beanstalkd once its outcome is counted (a moment later).
    const counts = await waitFor('the completed copy to be deleted', async () => {
      const now = await tubeCounts(port, f.tube);
      return now.reserved === 0 ? now : undefined;
    });
    assert.equal(
      counts.buried + counts.ready + counts.reserved + counts.delayed,
      0,
      'the buried copy was removed',
    );
    const again = await request(f.app.callback()).post(`/jobs/${accepted.id}/retry`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'JOB_NOT_RETRYABLE');
    const results = await withMongo(f.dbName, (db) => db.collection('results').find({}).toArray());
    assert.equal(results.length, 1);
  });

  it("when beanstalkd's max-job-size is now smaller than a failed job's copy, then its retry is a 413 and it stays failed, and the bulk retry skips it", async () => {
    const { handler } = switchableHandler();
    await start(new Map([['hash', handler]]), { WORKER_RETRY_BASE_MS: '0' });
    const body = JSON.stringify({ big: 'b'.repeat(3000) });
    const { body: accepted } = await post(body);
    await waitFor('the failed outcome', stateIs(accepted.id, 'failed'));
    await waitFor('the copy to be buried', async () => (await tubeCounts(port, f.tube)).buried === 1);
    // A manager that read a smaller max-job-size (beanstalkd restarted with a lower -z).
    const small = await appFixture({
      label: 'reliability-small',
      share: { tubePrefix: f.tubePrefix, dbName: f.dbName },
      maxJobSize: 1000,
    });
    try {
      const retried = await request(small.app.callback()).post(`/jobs/${accepted.id}/retry`);
      assert.equal(retried.status, 413, JSON.stringify(retried.body));
      assert.equal(retried.body.error.code, 'PAYLOAD_TOO_LARGE');
      assert.equal((await view(accepted.id)).state, 'failed', 'its failed outcome is kept');
      const bulk = await request(small.app.callback()).post('/types/hash/retry-failed');
      assert.equal(bulk.status, 200, JSON.stringify(bulk.body));
      assert.equal(bulk.body.retried, 0);
      assert.equal(bulk.body.skipped, 1);
      assert.equal((await view(accepted.id)).state, 'failed');
      const counts = await tubeCounts(port, f.tube);
      assert.equal(counts.buried, 1, 'its buried copy stays');
      assert.equal(counts.ready + counts.delayed + counts.reserved, 0, 'no new copy');
    } finally {
      await small.close();
    }
  });

  /** Options and a parameter away from every default: each must survive a copy put again. */
  const SHAPED = '?algorithm=sha256&priority=7&ttr=33&delay=1&attempts=2';
  /** The copy a job's newest queue location names, once it is not `previous` any more. */
  const newCopy = async (id: string, previous: string) => {
    const location = await waitFor('the new copy', async () => {
      const now = await locate(f.store, id);
      return now.beanstalkId !== previous ? now : undefined;
    });
    return { location, copy: await rawCopy(port, location.beanstalkId) };
  };
  /** What every copy put again of a SHAPED job must be. */
  const assertShapedCopy = (copy: Awaited<ReturnType<typeof rawCopy>>, id: string, body: string) => {
    assert.deepEqual(
      {
        priority: copy.priority,
        ttr: copy.ttr,
        delay: copy.delay,
        state: copy.state,
        reserves: copy.reserves,
      },
      { priority: 7, ttr: 33, delay: 0, state: 'ready', reserves: 0 },
      'priority and ttr kept; the delay, long past, not waited again; a fresh attempt budget',
    );
    assert.deepEqual(copy.envelope, {
      id,
      type: 'hash',
      payload: body,
      maxAttempts: 2,
      params: { algorithm: 'sha256' },
      requeued: true,
    });
  };
  const completesWithSha256 = async (id: string, body: string) => {
    await start(new Map(builtinHandlers()));
    const done = await waitFor('completion', stateIs(id, 'completed'));
    assert.equal(done.result.algorithm, 'sha256');
    assert.equal(done.result.hash, hashPayload(body, 'sha256'));
  };
  /** Posts a SHAPED job and waits until its delay is over (beanstalkd says ready). */
  const postShaped = async (body: string, headers: Record<string, string> = {}) => {
    const res = await request(f.app.callback())
      .post(`/jobs${SHAPED}`)
      .set('Content-Type', 'application/json')
      .set(headers)
      .send(body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const first = await locate(f.store, res.body.id);
    const copy = await waitFor('its delay to end', async () => {
      const now = await rawCopy(port, first.beanstalkId);
      return now.state === 'ready' ? now : undefined;
    });
    assert.deepEqual([copy.priority, copy.ttr, copy.delay], [7, 33, 1]);
    return { id: res.body.id as string, first };
  };

  it('when a failed job with a parameter and its own priority, ttr and delay is retried, then its new copy keeps them, does not wait out the delay again, and completes', async () => {
    const body = '{"retry":"shaped"}';
    const { id, first } = await postShaped(body);
    const { handler } = switchableHandler();
    const failing = await start(new Map([['hash', handler]]), { WORKER_RETRY_BASE_MS: '0' });
    await waitFor('the failed outcome', stateIs(id, 'failed'));
    await waitFor('the copy to be buried', async () => (await tubeCounts(port, f.tube)).buried === 1);
    await failing.worker.stop(2000);
    const retried = await request(f.app.callback()).post(`/jobs/${id}/retry`);
    assert.equal(retried.status, 202);
    const { copy } = await newCopy(id, first.beanstalkId);
    assertShapedCopy(copy, id, body);
    await completesWithSha256(id, body);
  });

  it('when a lost copy of a job with a parameter and its own priority, ttr and delay is put back by the reconciler, then the new copy keeps them and completes', async () => {
    const body = '{"reconcile":"shaped"}';
    const { id, first } = await postShaped(body);
    assert.equal((await beanstalkRaw(port, `delete ${first.beanstalkId}`)).reply, 'DELETED');
    const report = await reconcilerFor(f).pass(new Date(Date.now() + 1000));
    assert.equal(report.requeued, 1);
    const { copy } = await newCopy(id, first.beanstalkId);
    assertShapedCopy(copy, id, body);
    await completesWithSha256(id, body);
  });

  it('when an idempotent replay finds its job with no copy, then the copy it puts keeps the parameter, priority and ttr, and completes', async () => {
    const body = '{"replay":"shaped"}';
    const key = { 'Idempotency-Key': `shaped-${newJobId()}` };
    const { id, first } = await postShaped(body, key);
    assert.equal((await beanstalkRaw(port, `delete ${first.beanstalkId}`)).reply, 'DELETED');
    const replayed = await request(f.app.callback())
      .post(`/jobs${SHAPED}`)
      .set('Content-Type', 'application/json')
      .set(key)
      .send(body);
    assert.equal(replayed.status, 200);
    assert.deepEqual([replayed.body.id, replayed.body.state], [id, 'queued']);
    const { copy } = await newCopy(id, first.beanstalkId);
    assertShapedCopy(copy, id, body);
    await completesWithSha256(id, body);
  });

  it("when a job would fill beanstalkd's max-job-size, then it is accepted only if the copy a retry puts fits too, and the largest accepted one can be retried", async () => {
    const limit = (await f.queue.stats()).maxJobSize;
    assert.equal(limit, 65_535, "the test server keeps beanstalkd's default max-job-size");
    // Quotes grow once queued (a payload travels as a JSON string), so the queued size can
    // reach the limit while the body stays under the manager's body limit.
    const bodyOf = (padding: number) => JSON.stringify({ q: '"'.repeat(400), pad: 'a'.repeat(padding) });
    const firstCopyBytes = (payload: string) =>
      Buffer.byteLength(
        encodeEnvelope({
          id: newJobId(),
          type: 'hash',
          payload,
          maxAttempts: 1,
          params: { algorithm: 'sha256' },
        }),
      );
    const padFor = (bytes: number) => bytes - firstCopyBytes(bodyOf(0));
    const requeuedMark = Buffer.byteLength(',"requeued":true');
    // Its first copy fits, one put again would not: refused before anything is stored.
    const edge = bodyOf(padFor(limit - 4));
    assert.equal(firstCopyBytes(edge), limit - 4);
    const postSized = (text: string) =>
      request(f.app.callback())
        .post('/jobs?algorithm=sha256&attempts=1')
        .set('Content-Type', 'application/json')
        .send(text);
    const refused = await postSized(edge);
    assert.equal(refused.status, 413, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(await withMongo(f.dbName, (db) => db.collection('jobs').countDocuments()), 0);
    assert.equal((await tubeCounts(port, f.tube)).total, 0);
    // The largest accepted job: its copy put again is exactly max-job-size.
    const { handler } = switchableHandler();
    const failing = await start(new Map([['hash', handler]]), { WORKER_RETRY_BASE_MS: '0' });
    const largest = bodyOf(padFor(limit - requeuedMark));
    const accepted = await postSized(largest);
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    await waitFor('the failed outcome', stateIs(accepted.body.id, 'failed'));
    await failing.worker.stop(2000);
    const retried = await request(f.app.callback()).post(`/jobs/${accepted.body.id}/retry`);
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    await start(new Map(builtinHandlers()));
    const done = await waitFor('completion', stateIs(accepted.body.id, 'completed'));
    assert.equal(done.result.hash, hashPayload(largest, 'sha256'));
  });

  it('when a queued job is cancelled, then it gets a cancelled outcome and leaves beanstalkd; cancelling again is a 409', async () => {
    const { body: accepted } = await post('{"cancel":1}');
    const res = await request(f.app.callback()).delete(`/jobs/${accepted.id}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { id: accepted.id, state: 'cancelled' });
    assert.equal((await view(accepted.id)).state, 'cancelled');
    const counts = await tubeCounts(port, f.tube);
    assert.equal(counts.ready + counts.delayed + counts.reserved + counts.buried, 0);
    const again = await request(f.app.callback()).delete(`/jobs/${accepted.id}`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'JOB_NOT_CANCELLABLE');
    const missing = await request(f.app.callback()).delete('/jobs/01a20000-0000-7000-8000-000000000000');
    assert.equal(missing.status, 404);
  });

  /**
   * A hash handler that holds each job until `release()`: `started` lists the jobs it began,
   * `completed` counts, per job, the runs that got to return their result.
   */
  function gatedHandler() {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const started: string[] = [];
    const completed = new Map<string, number>();
    const handler: Handler = async (_p, context) => {
      started.push(context.jobId);
      await gate;
      completed.set(context.jobId, (completed.get(context.jobId) ?? 0) + 1);
      return { algorithm: 'md5', hash: hashPayload(context.rawPayload) };
    };
    return { handler, started, completed, release: () => release() };
  }

  it("when a cancel is stored while a worker still runs the job, then the worker's outcome insert loses: the job stays cancelled and the handler's result is not stored", async () => {
    const gated = gatedHandler();
    const { records } = await start(new Map([['hash', gated.handler]]));
    const { body: accepted } = await post('{"race":1}');
    await waitFor('the worker to hold the job', () => gated.started.includes(accepted.id));
    const cancel = await request(f.app.callback()).delete(`/jobs/${accepted.id}`);
    assert.equal(cancel.status, 200, 'the cancel was stored first');
    assert.deepEqual(cancel.body, { id: accepted.id, state: 'cancelled' });
    gated.release();
    await waitFor('the worker to see the cancel', () =>
      records.some(
        (r) => r.jobId === accepted.id && r.msg === 'outcome was already stored (redelivered job)',
      ),
    );
    assert.equal(gated.completed.get(accepted.id), 1, 'the handler did finish, once');
    const results = await withMongo(f.dbName, (db) => db.collection('results').find({}).toArray());
    assert.deepEqual(
      results.map((r) => [r._id, r.outcome, r.worker, r.result]),
      [[accepted.id, 'cancelled', 'manager', undefined]],
      "one outcome, the cancel's; the handler's result is nowhere",
    );
    const shown = await view(accepted.id);
    assert.equal(shown.state, 'cancelled');
    assert.equal(shown.result, undefined);
    await waitFor('the job to leave beanstalkd', async () => (await tubeCounts(port, f.tube)).current === 0);
  });

  it("when a worker's outcome lands between a cancel's read and its insert, then the cancel answers 409 and the job stays completed", async () => {
    const gated = gatedHandler();
    // The manager's store, with the cancel's outcome insert held until the test lets it go:
    // the cancel has read "no outcome yet" by then, so it must lose on the insert itself.
    let cancelInserting: () => void = () => undefined;
    const cancelReachedInsert = new Promise<void>((r) => {
      cancelInserting = r;
    });
    let letCancelInsert: () => void = () => undefined;
    const cancelMayInsert = new Promise<void>((r) => {
      letCancelInsert = r;
    });
    const g = await appFixture({
      label: 'race',
      share: { tubePrefix: f.tubePrefix, dbName: f.dbName },
      wrapStore: (store) =>
        new Proxy(store, {
          get(target, name, receiver) {
            const value = Reflect.get(target, name, receiver);
            if (name !== 'saveResult' || typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              cancelInserting();
              await cancelMayInsert;
              return value.apply(target, args);
            };
          },
        }),
    });
    try {
      await start(new Map([['hash', gated.handler]]));
      const body = '{"race":2}';
      const { body: accepted } = await post(body);
      await waitFor('the worker to hold the job', () => gated.started.includes(accepted.id));
      const cancelling = request(g.app.callback())
        .delete(`/jobs/${accepted.id}`)
        .then((res) => res);
      await cancelReachedInsert;
      gated.release();
      const stored = await waitFor("the worker's outcome", async () => {
        const doc = await f.store.findResult(accepted.id);
        return doc ?? undefined;
      });
      assert.equal(stored.outcome, 'completed');
      letCancelInsert();
      const cancel = await cancelling;
      assert.equal(cancel.status, 409, JSON.stringify(cancel.body));
      assert.equal(cancel.body.error.code, 'JOB_NOT_CANCELLABLE');
      assert.match(cancel.body.error.message, /finished first \(completed\)/);
      const shown = await view(accepted.id);
      assert.equal(shown.state, 'completed');
      assert.equal(shown.result.hash, hashPayload(body));
      assert.equal(gated.completed.get(accepted.id), 1);
      const results = await withMongo(f.dbName, (db) => db.collection('results').find({}).toArray());
      assert.deepEqual(
        results.map((r) => [r._id, r.outcome]),
        [[accepted.id, 'completed']],
      );
      // A cancel that comes after is refused before it writes anything.
      const late = await request(f.app.callback()).delete(`/jobs/${accepted.id}`);
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'JOB_NOT_CANCELLABLE');
      assert.equal((await view(accepted.id)).state, 'completed');
      await waitFor(
        'the job to leave beanstalkd',
        async () => (await tubeCounts(port, f.tube)).current === 0,
      );
    } finally {
      letCancelInsert();
      gated.release();
      await g.close();
    }
  });

  it('when a job runs past its TTR, then touches keep it reserved by its first worker well past the TTR, and it is delivered once', async () => {
    const ttrSeconds = 2;
    const gated = gatedHandler();
    const g = await appFixture({
      label: 'ttr',
      ttr: ttrSeconds,
      share: { tubePrefix: f.tubePrefix, dbName: f.dbName },
    });
    try {
      await start(new Map([['hash', gated.handler]]), { WORKER_CONCURRENCY: '1' });
      const res = await request(g.app.callback())
        .post('/jobs')
        .set('Content-Type', 'application/json')
        .send('{"long":1}');
      const ref = await locate(g.store, res.body.id);
      await waitFor('the handler to start', () => gated.started.includes(res.body.id));
      const startedAt = Date.now();
      // The reserve came before the handler started, so once the handler has run for 2½
      // TTRs the reservation is older still: untouched, beanstalkd would have taken the job
      // back (timeouts 1, state ready) after one TTR. Every sample up to then must show the
      // first reservation, still held; the last one is taken past 2½ TTRs.
      const pastMs = 2.5 * ttrSeconds * 1000;
      for (;;) {
        const heldMs = Date.now() - startedAt;
        const copy = await rawCopy(port, ref.beanstalkId);
        assert.deepEqual(
          { state: copy.state, reserves: copy.reserves, timeouts: copy.timeouts, ttr: copy.ttr },
          { state: 'reserved', reserves: 1, timeouts: 0, ttr: ttrSeconds },
          `after the handler ran ${heldMs} ms`,
        );
        assert.ok(copy.timeLeft >= 0, `time-left ${copy.timeLeft} after ${heldMs} ms`);
        if (heldMs >= pastMs) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      gated.release();
      await waitFor('completion', async () => (await view(res.body.id)).state === 'completed');
      assert.deepEqual(gated.started, [res.body.id], 'never handed to the handler again');
      assert.equal(gated.completed.get(res.body.id), 1);
      assert.equal((await f.store.findResult(res.body.id))?.attempt, 1);
    } finally {
      gated.release();
      await g.close();
    }
  });

  it('when a handler runs past the hard timeout, then it is aborted through its signal and the run counts as failed', async () => {
    let sawAbort = false;
    const stuck: Handler = (_p, context) =>
      new Promise((_, reject) => {
        context.signal.addEventListener('abort', () => {
          sawAbort = true;
          reject(context.signal.reason);
        });
      });
    await start(new Map([['hash', stuck]]), { WORKER_JOB_TIMEOUT_MS: '300', WORKER_RETRY_BASE_MS: '0' });
    const { body } = await post('{"stuck":1}');
    const failed = await waitFor('the failed outcome', stateIs(body.id, 'failed'));
    assert.ok(sawAbort, 'the handler saw its signal abort');
    assert.match(failed.error.message, /timed out after 300 ms/);
    assert.equal(failed.errors.length, 3);
  });

  it('when the same Idempotency-Key is sent twice, then the second answer is the first job and only one job exists', async () => {
    const first = await post('{"pay":1}', { 'Idempotency-Key': 'order-42' });
    assert.equal(first.status, 202);
    const second = await post('{"pay":1}', { 'Idempotency-Key': 'order-42' });
    assert.equal(second.status, 200);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.body.id, first.body.id);
    const other = await post('{"pay":1}', { 'Idempotency-Key': 'order-43' });
    assert.notEqual(other.body.id, first.body.id);
    const jobs = await withMongo(f.dbName, (db) => db.collection('jobs').countDocuments());
    assert.equal(jobs, 2);
    assert.equal((await tubeCounts(port, f.tube)).total, 2);
    const keys = await withMongo(f.dbName, (db) => db.collection('idempotency_keys').find({}).toArray());
    assert.ok(
      keys.every((k) => !String(k._id).includes('order')),
      'keys are stored hashed',
    );
    const bad = await post('{"pay":1}', { 'Idempotency-Key': 'with space' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_IDEMPOTENCY_KEY');
  });

  it('when 20 POSTs with one Idempotency-Key arrive at once, then exactly one job is recorded and queued, and every answer names it', async () => {
    const key = `burst-${newJobId()}`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => post('{"burst":1}', { 'Idempotency-Key': key })),
    );
    const ids = new Set(answers.map((res) => res.body.id));
    const said = answers.map((res) => `${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(ids.size, 1, said.join('\n'));
    const [id] = ids;
    const jobs = await withMongo(f.dbName, (db) => db.collection('jobs').find({}).toArray());
    assert.deepEqual(
      jobs.map((j) => j._id),
      [id],
      'one record',
    );
    const counts = await tubeCounts(port, f.tube);
    assert.deepEqual(
      { total: counts.total, ready: counts.ready },
      { total: 1, ready: 1 },
      `one copy ever put in beanstalkd (answers: ${answers.map((res) => res.status).join(' ')})`,
    );
    const keys = await withMongo(f.dbName, (db) => db.collection('idempotency_keys').find({}).toArray());
    assert.deepEqual(
      keys.map((k) => [k._id, k.jobId]),
      [[hashIdempotencyKey(key), id]],
      'the key still names the job',
    );
    assert.deepEqual(
      answers.map((res) => res.status).sort((a, b) => a - b),
      [...Array.from({ length: 19 }, () => 200), 202],
      'one 202 that created the job, 19 replays',
    );
  });

  it('when a key has expired, then the same key creates a new job', async () => {
    const g = await appFixture({
      label: 'idem',
      idempotencyTtlMs: 300,
      share: { tubePrefix: f.tubePrefix, dbName: f.dbName },
    });
    try {
      const send = () =>
        request(g.app.callback())
          .post('/jobs')
          .set('Content-Type', 'application/json')
          .set('Idempotency-Key', 'k1')
          .send('{}');
      const first = await send();
      const fresh = await waitFor('the key to expire', async () => {
        const res = await send();
        return res.body.id !== first.body.id ? res : undefined;
      });
      assert.equal(fresh.status, 202);
    } finally {
      await g.close();
    }
  });

  it("when beanstalkd's reply to a put is lost, then the record stays, the POST answers 202, and the job ends once", async () => {
    const proxy = await startTcpProxy(port);
    const g = await appFixture({
      label: 'doubt',
      beanstalkPort: proxy.port,
      share: { tubePrefix: f.tubePrefix, dbName: f.dbName },
    });
    try {
      const postVia = (body: string) =>
        request(g.app.callback()).post('/jobs').set('Content-Type', 'application/json').send(body);
      // The put is tried once more at once, and lands.
      proxy.cutAfterNextPut();
      const once = await postVia('{"doubt":1}');
      assert.equal(once.status, 202);
      assert.equal((await tubeCounts(port, f.tube)).ready, 2, 'the copy whose reply was lost, and the retry');
      // The retry fails too: the record stays with no copy it can name, for the reconciler.
      proxy.cutAfterNextPut({ refuseAfter: true });
      const twice = await postVia('{"doubt":2}');
      assert.equal(twice.status, 202);
      proxy.pass();
      assert.equal((await tubeCounts(port, f.tube)).ready, 3, "only the second job's lost-reply copy");
      assert.ok(await f.store.findJob(twice.body.id), 'its record stays');
      assert.equal(
        (await view(twice.body.id)).queue,
        null,
        'GET shows it recorded, with no copy it can name',
      );
      // The first job's ref names its copy (the POST's answer does not wait for it).
      await waitFor(
        "the first job's queue ref",
        async () => (await f.store.findQueueRef(once.body.id)) ?? undefined,
      );
      assert.deepEqual(await reconcilerFor(f).pass(new Date(Date.now() + 1000)), {
        checked: 2,
        requeued: 1,
        kicked: 0,
        settled: 0,
      });
      await start(new Map(builtinHandlers()));
      for (const [res, body] of [
        [once, '{"doubt":1}'],
        [twice, '{"doubt":2}'],
      ] as const) {
        const done = await waitFor('completion', stateIs(res.body.id, 'completed'));
        assert.equal(done.result.hash, hashPayload(body));
      }
      await waitFor('every copy to be gone', async () => (await tubeCounts(port, f.tube)).current === 0);
      const results = await withMongo(f.dbName, (db) => db.collection('results').countDocuments());
      assert.equal(results, 2, 'one outcome per job');
    } finally {
      await g.close();
      await proxy.close();
    }
  });

  it("when a job's beanstalkd copy is lost, then the reconciler puts it again and a worker completes it", async () => {
    const body = '{"lost":1}';
    const { body: accepted } = await post(body);
    const ref = await locate(f.store, accepted.id);
    assert.equal((await beanstalkRaw(port, `delete ${ref.beanstalkId}`)).reply, 'DELETED');
    assert.equal((await view(accepted.id)).queue, null, 'GET shows it recorded but not queued');
    const reconciler = reconcilerFor(f);
    assert.deepEqual(await reconciler.pass(new Date(Date.now() + 1000)), {
      checked: 1,
      requeued: 1,
      kicked: 0,
      settled: 0,
    });
    assert.deepEqual(
      await reconciler.pass(new Date(Date.now() + 1000)),
      { checked: 1, requeued: 0, kicked: 0, settled: 0 },
      'a queued job is left alone',
    );
    await start(new Map(builtinHandlers()));
    const done = await waitFor('completion', stateIs(accepted.id, 'completed'));
    assert.equal(done.result.hash, hashPayload(body));
    const settled = await reconciler.pass(new Date(Date.now() + 1000));
    assert.deepEqual(
      settled,
      { checked: 1, requeued: 0, kicked: 0, settled: 1 },
      'finished: its segment is settled',
    );
    assert.deepEqual(
      await reconciler.pass(new Date(Date.now() + 1000)),
      { checked: 0, requeued: 0, kicked: 0, settled: 0 },
      'a settled segment is not examined again',
    );
  });

  it('when a manager died between put and kick, then the reconciler and a replayed POST kick the held copy', async () => {
    // What a manager leaves when it dies after storing the record and before the kick.
    const leaveOnHold = async (payload: string) => {
      const id = newJobId();
      const body = encodeEnvelope({ id, type: 'hash', payload, maxAttempts: 1, held: true });
      const beanstalkId = await f.queue.put(f.tube, body, { priority: 0, delay: 600, ttr: 60 });
      await f.store.insertJob({
        _id: id,
        type: 'hash',
        payload,
        bytes: Buffer.byteLength(payload),
        options: { priority: 0, delay: 0, ttr: 60, maxAttempts: 1 },
        createdAt: new Date(),
        queue: { server: f.queue.server, beanstalkId, tube: f.tube },
      });
      return { id, beanstalkId };
    };
    const forReconciler = await leaveOnHold('{"held":"reconciler"}');
    const reconciler = reconcilerFor(f);
    assert.deepEqual(await reconciler.pass(new Date(Date.now() + 1000)), {
      checked: 1,
      requeued: 0,
      kicked: 1,
      settled: 0,
    });
    assert.equal((await f.queue.statsJob(forReconciler.beanstalkId)).state, 'ready');
    assert.deepEqual(
      await reconciler.pass(new Date(Date.now() + 1000)),
      { checked: 1, requeued: 0, kicked: 0, settled: 0 },
      'a kicked copy is left alone',
    );

    const forReplay = await leaveOnHold('{"held":"replay"}');
    const key = `held-${forReplay.id}`;
    await f.store.claimIdempotencyKey(hashIdempotencyKey(key), forReplay.id, new Date(), 60_000);
    const replayed = await request(f.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json')
      .set('Idempotency-Key', key)
      .send('{"held":"replay"}');
    assert.equal(replayed.status, 200);
    assert.equal(replayed.body.id, forReplay.id);
    assert.equal(replayed.body.state, 'queued');
    assert.equal((await f.queue.statsJob(forReplay.beanstalkId)).state, 'ready');
    assert.equal((await tubeCounts(port, f.tube)).ready, 2);
  });

  it("when a job's beanstalkd id now holds another job (ids repeat), then the reconciler still re-queues the lost one", async () => {
    const { body: lost } = await post('{"mine":1}');
    const { body: other } = await post('{"other":1}');
    const lostRef = await locate(f.store, lost.id);
    const otherRef = await locate(f.store, other.id);
    await beanstalkRaw(port, `delete ${lostRef.beanstalkId}`);
    // locate may answer from the refs still being inserted: the replace below then races its
    // insert, as a reconciler's may, and must win all the same (replaceQueueRef retries an upsert
    // that meets the insert; our FerretDB build answers it once the insert is readable).
    await f.store.replaceQueueRef({
      ...lostRef,
      _id: lost.id,
      putAt: new Date(),
      beanstalkId: otherRef.beanstalkId,
    });
    const reconciler = reconcilerFor(f);
    const report = await reconciler.pass(new Date(Date.now() + 1000));
    assert.equal(report.requeued, 1);
    const newRef = await locate(f.store, lost.id);
    assert.notEqual(newRef.beanstalkId, otherRef.beanstalkId);
    assert.equal((await tubeCounts(port, f.tube)).ready, 2);
    const copies = await Promise.all([newRef, otherRef].map((ref) => rawCopy(port, ref.beanstalkId)));
    assert.deepEqual(
      copies.map((copy) => [copy.envelope?.id, copy.envelope?.payload, copy.envelope?.requeued]),
      [
        [lost.id, '{"mine":1}', true],
        [other.id, '{"other":1}', undefined],
      ],
      "the new copy is the lost job's; the other job's copy is untouched",
    );
  });

  it('when a lost copy of a job still in its delay is put back, then the new copy waits only what is left of the delay', async () => {
    const res = await request(f.app.callback())
      .post('/jobs?delay=600')
      .set('Content-Type', 'application/json')
      .send('{"later":1}');
    assert.equal(res.status, 202);
    const first = await locate(f.store, res.body.id);
    assert.equal((await beanstalkRaw(port, `delete ${first.beanstalkId}`)).reply, 'DELETED');
    const judgedAt = Date.now() + 1000;
    assert.equal((await reconcilerFor(f).pass(new Date(judgedAt))).requeued, 1);
    const { copy } = await newCopy(res.body.id, first.beanstalkId);
    const createdAt = Date.parse(res.body.createdAt);
    // What is left of 600 s between the job's creation and now, in whole seconds.
    const leftAtMost = Math.ceil((createdAt + 600_000 - (judgedAt - 1000)) / 1000);
    assert.equal(copy.state, 'delayed');
    assert.ok(
      copy.delay <= leftAtMost && copy.delay >= leftAtMost - 5,
      `delay ${copy.delay} s, ${leftAtMost} s left`,
    );
    assert.deepEqual(copy.envelope?.requeued, true);
  });

  it('when two managers run maintenance, then only the lease holder works; retention removes old finished jobs and keeps failed ones', async () => {
    const silent = pino({ level: 'silent' });
    const common = {
      queue: f.queues,
      store: f.store,
      log: silent,
      tubePrefix: f.tubePrefix,
      graceMs: 0,
      intervalMs: 0,
      retentionMs: 60_000,
    };
    const a = startBackgroundPasses({ ...common, holder: 'manager-a' });
    const b = startBackgroundPasses({ ...common, holder: 'manager-b' });
    try {
      const now = Date.now();
      const old = new Date(now - 120_000);
      const ids = {
        done: '01a20000-0000-7000-8000-000000000001',
        failed: '01a20000-0000-7000-8000-000000000002',
      };
      for (const [id, outcome] of [
        [ids.done, 'completed'],
        [ids.failed, 'failed'],
      ] as const) {
        await f.store.insertJob({
          _id: id,
          type: 'hash',
          payload: '{}',
          bytes: 2,
          options: { priority: 1, delay: 0, ttr: 60, maxAttempts: 1 },
          createdAt: old,
        });
        await f.store.saveResult({
          _id: id,
          type: 'hash',
          outcome,
          worker: 'w',
          attempt: 1,
          startedAt: old,
          finishedAt: old,
          durationMs: 0,
        });
      }
      assert.ok(await a.runOnce(), 'the first manager takes the lease');
      assert.equal(await b.runOnce(), null, 'the second does not');
      assert.equal(await f.store.findJob(ids.done), null, 'the old completed job is gone');
      assert.equal(await f.store.findResult(ids.done), null);
      assert.ok(await f.store.findResult(ids.failed), 'the failed one is kept');
      await a.stop();
      assert.ok(await b.runOnce(), 'once released, the other manager takes over');
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('when MongoDB is down while jobs finish, then the worker logs the outage once and releases each job', async () => {
    const { createStore } = await import('../../src/store/index.js');
    const deadStore = createStore({
      url: 'mongodb://127.0.0.1:1',
      dbName: f.dbName,
      timeoutMs: 200,
      insertRetryMs: 200,
    });
    const { log, records } = capturingLogger();
    const worker = await startWorker(configFor({ WORKER_CONCURRENCY: '3' }), {
      handlers: builtinHandlers(),
      log,
      store: deadStore,
    });
    workers.push(worker);
    try {
      for (let i = 0; i < 3; i += 1) await post(JSON.stringify({ i }));
      await waitFor('all three to be released', async () => (await tubeCounts(port, f.tube)).delayed === 3);
      assert.equal(
        records.filter((r) => r.msg === 'outcome stored').length,
        0,
        'nothing claimed to be stored',
      );
      assert.equal(
        records.filter((r) => r.msg === 'MongoDB unavailable; outcomes wait in beanstalkd').length,
        1,
      );
    } finally {
      await worker.stop(1000);
      await deadStore.close();
    }
  });
});
