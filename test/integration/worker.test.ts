/** The worker loop in-process against real servers: outcomes, deletes, burials, redelivery. */
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers, type Handler, hashPayload } from '../../src/handlers/index.js';
import { encodeEnvelope } from '../../src/jobs/envelope.js';
import { newJobId } from '../../src/jobs/job-id.js';
import { createStore } from '../../src/store/index.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, beanstalkRaw, startTcpProxy, tubeCounts, waitFor, withMongo } from '../support/harness.js';

function capturingLogger() {
  const records: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line)) });
  return { log, records };
}

/**
 * What a worker that dies holding a job leaves behind: a connection that reserved the job from
 * `tube` and then went away without a word (no release, no bury, no delete). beanstalkd cannot
 * tell it from a SIGKILLed worker: it puts the job back, ready, and counts nothing but the reserve.
 */
function reserveAndDie(port: number, tube: string): Promise<string> {
  return new Promise((done, fail) => {
    const socket = new Socket();
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`nothing to reserve in ${tube}`));
    }, 5000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const reserved = /RESERVED (\d+) \d+\r\n/.exec(text);
      if (!reserved) return;
      clearTimeout(timer);
      socket.destroy();
      done(reserved[1] as string);
    });
    socket.once('error', fail);
    socket.connect(port, '127.0.0.1', () =>
      socket.write(`watch ${tube}\r\nignore default\r\nreserve-with-timeout 3\r\n`),
    );
  });
}

describe('worker on real servers', function () {
  this.timeout(30_000);
  let f: AppFixture;
  let worker: RunningWorker | undefined;
  let port: number;

  const configFor = (extra: Record<string, string> = {}) =>
    loadWorkerConfig({
      ...workerEnvFor(f),
      WORKER_CONCURRENCY: '2',
      WORKER_NAME: 'itest',
      ...extra,
    });
  const post = async (body: string, query = '') => {
    const res = await request(f.app.callback())
      .post(`/jobs${query}`)
      .set('Content-Type', 'application/json')
      .send(body);
    assert.equal(res.status, 202);
    return res.body.id as string;
  };
  /** One delivery of the tube's job lost with its worker; the job's beanstalkd id. */
  const loseDelivery = async () => {
    const beanstalkId = await reserveAndDie(port, f.tube);
    await waitFor('the job ready again', async () => (await tubeCounts(port, f.tube)).ready === 1);
    return beanstalkId;
  };
  const view = async (id: string) => (await request(f.app.callback()).get(`/jobs/${id}`)).body;
  /** A completed outcome of `payload`'s job stored by `worker`, as a run before this one left it. */
  const storeCompleted = (id: string, payload: string, worker: string) => {
    const now = new Date();
    return f.store.saveResult({
      _id: id,
      type: 'hash',
      outcome: 'completed',
      result: { algorithm: 'md5', hash: hashPayload(payload) },
      worker,
      attempt: 1,
      startedAt: now,
      finishedAt: now,
      durationMs: 1,
    });
  };

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(async () => {
    f = await appFixture({ label: 'worker' });
  });
  afterEach(async () => {
    await worker?.stop(2000);
    worker = undefined;
    await f.close();
  });

  it('when a job is queued, then the worker stores its MD5, deletes it from beanstalkd, and GET says completed', async () => {
    const { log } = capturingLogger();
    worker = await startWorker(configFor(), { handlers: builtinHandlers(), log });
    const body = '{"example":"data"}';
    const id = await post(body);
    const done = await waitFor('completion', async () => {
      const v = await view(id);
      return v.state === 'completed' ? v : undefined;
    });
    assert.equal(done.result.hash, hashPayload(body));
    assert.equal(done.result.hash, '09ee943c4fa33cd5a355eb7a4e38f7ef', "the original system's digest");
    assert.match(done.worker, /^itest:\d$/);
    assert.equal(done.attempts, 1);
    await waitFor('the job to leave beanstalkd', async () => {
      const counts = await tubeCounts(port, f.tube);
      return counts.ready + counts.reserved + counts.delayed + counts.buried === 0;
    });
  });

  it("when slots reserve jobs, then their stats-job questions go over one shared connection, not over the slots' own", async () => {
    // Every byte between the worker and beanstalkd, per connection, through a proxy.
    const sent = new Map<number, string>();
    const proxy = await startTcpProxy(port, {
      sent: (connection, chunk) =>
        sent.set(connection, (sent.get(connection) ?? '') + chunk.toString('latin1')),
      received: () => undefined,
      closed: () => undefined,
    });
    try {
      const { log } = capturingLogger();
      worker = await startWorker(configFor({ BEANSTALK_PORT: String(proxy.port), WORKER_CONCURRENCY: '8' }), {
        handlers: builtinHandlers(),
        log,
      });
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => post(JSON.stringify({ lane: i }))));
      await waitFor('every job to complete', async () => {
        for (const id of ids) if ((await view(id)).state !== 'completed') return false;
        return true;
      });
      const count = (text: string, command: string) => text.split(`${command} `).length - 1;
      const reserving = [...sent.values()].filter((text) => count(text, 'reserve-with-timeout') > 0);
      const asking = [...sent.values()].filter((text) => count(text, 'stats-job') > 0);
      assert.ok(reserving.length >= 2, `${reserving.length} slot connections reserved`);
      assert.equal(
        reserving.filter((text) => count(text, 'stats-job') > 0).length,
        0,
        'no slot asked on its own connection',
      );
      assert.equal(asking.length, 1, 'one connection asked every stats-job');
      assert.ok(count(asking[0] ?? '', 'stats-job') >= 40, 'one question per job at least');
    } finally {
      await worker?.stop(2000);
      worker = undefined;
      await proxy.close();
    }
  });

  it('when jobs come one at a time, then a slot sends each delete with its next reserve in one write, and no reserve(0) while other slots wait', async () => {
    // What each connection sent, write by write (a chunk this small is never split on loopback).
    const chunks = new Map<number, string[]>();
    const proxy = await startTcpProxy(port, {
      sent: (connection, chunk) =>
        chunks.set(connection, [...(chunks.get(connection) ?? []), chunk.toString('latin1')]),
      received: () => undefined,
      closed: () => undefined,
    });
    try {
      const { log } = capturingLogger();
      worker = await startWorker(
        configFor({
          BEANSTALK_PORT: String(proxy.port),
          WORKER_CONCURRENCY: '4',
          // No reserve ends by its timeout during the test: every slot but the busy one waits.
          WORKER_RESERVE_TIMEOUT_SECONDS: '30',
        }),
        { handlers: builtinHandlers(), log },
      );
      const jobs = 8;
      for (let i = 0; i < jobs; i += 1) {
        const id = await post(JSON.stringify({ oneAtATime: i }));
        await waitFor(`job ${i} to complete`, async () => (await view(id)).state === 'completed');
      }
      const slotChunks = () =>
        [...chunks.values()].filter((list) => list.some((c) => c.includes('reserve-with-timeout')));
      const deletes = () =>
        slotChunks()
          .flat()
          .filter((chunk) => chunk.includes('delete '));
      await waitFor('every delete to be sent', () => deletes().length >= jobs);

      assert.equal(deletes().length, jobs);
      for (const chunk of deletes()) assert.match(chunk, /^delete \d+\r\nreserve-with-timeout 30\r\n$/);
      const polls = slotChunks()
        .flat()
        .filter((chunk) => chunk.includes('reserve-with-timeout 0\r\n'));
      assert.deepEqual(polls, [], 'no slot polled while another one waited in a reserve');
    } finally {
      await worker?.stop(2000);
      worker = undefined;
      await proxy.close();
    }
  });

  it('when a body is not one of ours, then it is buried with its reason and the worker carries on', async () => {
    const { log, records } = capturingLogger();
    worker = await startWorker(configFor(), { handlers: builtinHandlers(), log });
    const junk = await beanstalkRaw(port, `use ${f.tube}\r\nput 0 0 60 8\r\nnot json`);
    // The raw helper answers the first reply (USING); wait for the put to be buried.
    assert.match(junk.reply, /^USING/);
    await waitFor('the junk job to be buried', async () => (await tubeCounts(port, f.tube)).buried === 1);
    assert.ok(
      records.some((r) => r.msg === 'burying a job that cannot run' && String(r.reason).includes('envelope')),
    );
    const id = await post('{"after":"junk"}');
    await waitFor('the next job to complete', async () => (await view(id)).state === 'completed');
  });

  it('when the handler throws on every attempt, then a failed outcome with the message is stored and the job is buried', async () => {
    const { log } = capturingLogger();
    const failing: Handler = async () => {
      throw new Error('handler exploded');
    };
    worker = await startWorker(configFor({ WORKER_RETRY_BASE_MS: '0' }), {
      handlers: new Map([['hash', failing]]),
      log,
    });
    const id = await post('{"fail":true}');
    const failed = await waitFor('the failed outcome', async () => {
      const v = await view(id);
      return v.state === 'failed' ? v : undefined;
    });
    assert.deepEqual(failed.error, { message: 'handler exploded' });
    assert.equal(failed.attempts, 3);
    await waitFor('the job to be buried', async () => (await tubeCounts(port, f.tube)).buried === 1);
    const counts = await tubeCounts(port, f.tube);
    assert.equal(counts.ready + counts.reserved + counts.delayed, 0);
  });

  it('when every delivery of a job so far died with its worker, then past its attempts it fails without running again', async () => {
    const { log, records } = capturingLogger();
    const id = await post('{"kills":"its worker"}', '?attempts=2');
    // Two workers took it and died with it: its two attempts are spent.
    const first = await loseDelivery();
    assert.equal(await loseDelivery(), first, 'the same copy, delivered again');
    let runs = 0;
    const counting: Handler = async () => {
      runs += 1;
      return { ran: true };
    };
    worker = await startWorker(configFor(), { handlers: new Map([['hash', counting]]), log });
    const failed = await waitFor('the failed outcome', async () => {
      const v = await view(id);
      return v.state === 'failed' ? v : undefined;
    });
    assert.equal(runs, 0, 'the handler never ran a third time');
    assert.equal(failed.attempts, 3, 'the delivery that ended it is the third');
    assert.match(failed.error.message, /2 deliveries ended without an outcome or a release/);
    await waitFor('the job to be buried', async () => (await tubeCounts(port, f.tube)).buried === 1);
    assert.ok(records.some((r) => r.jobId === id && /killed or lost/.test(String(r.msg))));
    const history = await f.store.findAttempts(id);
    assert.equal(history.length, 1);
    assert.match(history[0]?.error ?? '', /2 deliveries ended without an outcome/);
  });

  it('when deliveries died with their worker but fewer than its attempts, then the job runs and completes', async () => {
    const { log } = capturingLogger();
    const id = await post('{"survives":1}', '?attempts=2');
    await loseDelivery();
    worker = await startWorker(configFor(), { handlers: builtinHandlers(), log });
    const done = await waitFor('completion', async () => {
      const v = await view(id);
      return v.state === 'completed' ? v : undefined;
    });
    assert.equal(done.attempts, 2);
    assert.equal(done.result.hash, hashPayload('{"survives":1}'));
  });

  it('when a job past its lost deliveries already has an outcome (its last worker died before deleting it), then that outcome stands and the copy is deleted, not buried', async () => {
    const { log } = capturingLogger();
    const id = await post('{"ended":"before"}', '?attempts=1');
    await loseDelivery();
    await storeCompleted(id, '{"ended":"before"}', 'died-after-storing');
    worker = await startWorker(configFor(), { handlers: builtinHandlers(), log });
    await waitFor('the copy to leave beanstalkd', async () => (await tubeCounts(port, f.tube)).current === 0);
    const counts = await tubeCounts(port, f.tube);
    assert.equal(counts.buried, 0);
    const v = await view(id);
    assert.equal(v.state, 'completed');
    assert.equal(v.worker, 'died-after-storing');
    assert.deepEqual(await f.store.findAttempts(id), [], 'a completed job keeps no failure of its copy');
  });

  it('when a job whose outcome is already stored is delivered again, then it is deleted with no failure logged', async () => {
    const { log, records } = capturingLogger();
    const id = await post('{"twice":1}');
    await storeCompleted(id, '{"twice":1}', 'earlier');
    worker = await startWorker(configFor(), { handlers: builtinHandlers(), log });
    await waitFor('the redelivered job to be deleted', async () => {
      const counts = await tubeCounts(port, f.tube);
      return counts.total === 1 && counts.ready + counts.reserved === 0;
    });
    assert.ok(
      records.some((r) => r.msg === 'outcome was already stored (redelivered job)' && r.jobId === id),
    );
    assert.deepEqual(
      records.filter((r) => Number(r.level) >= 40),
      [],
      'nothing logged at warn or above',
    );
    const results = await withMongo(f.dbName, (db) => db.collection('results').find({}).toArray());
    assert.equal(results.length, 1);
    assert.equal(results[0]?.worker, 'earlier', 'the first outcome wins');
  });

  it('when a held job was never kicked (its manager died), then it runs only if its record was stored and names that copy', async () => {
    const { log, records } = capturingLogger();
    // What a manager leaves when it dies between put and kick: the copy waits out its hold
    // (1 s here) with kicks 0, recorded or not depending on how far the manager got.
    const put = (id: string, payload: string) =>
      f.queue.put(f.tube, encodeEnvelope({ id, type: 'hash', payload, maxAttempts: 1, held: true }), {
        priority: 0,
        delay: 1,
        ttr: 60,
      });
    const recorded = newJobId();
    const beanstalkId = await put(recorded, '{"recorded":1}');
    await f.store.insertJob({
      _id: recorded,
      type: 'hash',
      payload: '{"recorded":1}',
      bytes: 14,
      options: { priority: 0, delay: 0, ttr: 60, maxAttempts: 1 },
      createdAt: new Date(),
      queue: { server: f.queue.server, beanstalkId, tube: f.tube },
    });
    // A second copy of the recorded job, as a retry with the same Idempotency-Key leaves it.
    const orphan = await put(recorded, '{"recorded":1}');
    const unrecorded = newJobId();
    await put(unrecorded, '{"unrecorded":1}');
    worker = await startWorker(configFor(), { handlers: builtinHandlers(), log });
    const done = await waitFor('the recorded one to complete', async () => {
      const v = await view(recorded);
      return v.state === 'completed' ? v : undefined;
    });
    assert.equal(done.result.hash, hashPayload('{"recorded":1}'));
    await waitFor('both to leave beanstalkd', async () => (await tubeCounts(port, f.tube)).current === 0);
    assert.equal(await f.store.findResult(unrecorded), null, 'the unrecorded one never ran');
    assert.ok(records.some((r) => r.jobId === unrecorded && /never recorded/.test(String(r.msg))));
    assert.ok(
      records.some((r) => r.beanstalkId === orphan && /does not name/.test(String(r.msg))),
      'the copy its record does not name was deleted, not run',
    );
    assert.equal(done.attempts, 1);
    assert.ok(!records.some((r) => /already stored/.test(String(r.msg))), 'the job ran once');
  });

  it('when MongoDB cannot take the outcome, then the job is released for later, not deleted', async () => {
    const { log, records } = capturingLogger();
    const deadStore = createStore({
      url: 'mongodb://127.0.0.1:1',
      dbName: f.dbName,
      timeoutMs: 300,
      insertRetryMs: 300,
    });
    try {
      worker = await startWorker(configFor({ WORKER_CONCURRENCY: '1' }), {
        handlers: builtinHandlers(),
        log,
        store: deadStore,
      });
      await post('{"keep":"me"}');
      await waitFor(
        'the job to be released with a delay',
        async () => (await tubeCounts(port, f.tube)).delayed === 1,
      );
      assert.ok(
        records.some(
          (r) => r.msg === 'could not store the outcome (or its group mark); releasing the job for later',
        ),
      );
      await worker.stop(2000);
      worker = undefined;
      const counts = await tubeCounts(port, f.tube);
      assert.equal(counts.delayed + counts.ready, 1, 'the job is still in beanstalkd');
    } finally {
      await deadStore.close();
    }
  });

  it('when the outcome write never answers, then the job is touched past its TTR, released at the deadline, and the slot moves on', async () => {
    const { log, records } = capturingLogger();
    let hung = 0;
    // The first outcome write hangs for good (seen once in the fault suite, cause unknown);
    // later ones reach the real store.
    const hanging = Object.create(f.store, {
      saveResult: {
        value: (doc: Parameters<typeof f.store.saveResult>[0]) => {
          hung += 1;
          return hung === 1 ? new Promise(() => undefined) : f.store.saveResult(doc);
        },
      },
    }) as typeof f.store;
    // Deadline: 300 + 2 × 300 + 1,000 = 1.9 s, past the job's 1 s TTR.
    worker = await startWorker(
      configFor({ WORKER_CONCURRENCY: '1', WORKER_STORE_RETRY_MS: '300', MONGO_TIMEOUT_MS: '300' }),
      { handlers: builtinHandlers(), log, store: hanging },
    );
    const res = await request(f.app.callback())
      .post('/jobs?ttr=1')
      .set('Content-Type', 'application/json')
      .send('{"stuck":1}');
    assert.equal(res.status, 202);
    const stuck = res.body.id as string;
    await waitFor('the slot to give up on the write', () =>
      records.some(
        (r) =>
          r.msg === 'could not store the outcome (or its group mark); releasing the job for later' &&
          String((r.err as { message?: string } | undefined)?.message).includes(
            'did not answer the outcome write within 1900 ms',
          ),
      ),
    );
    const released = await view(stuck);
    assert.equal(released.state, 'delayed', 'released with a delay, not left reserved');
    assert.equal(released.queue.timeouts, 0, 'touched while it waited: its 1 s TTR never ran out');
    assert.equal(released.queue.releases, 1);
    const next = await post('{"next":1}');
    await waitFor('the next job to complete', async () => (await view(next)).state === 'completed');
    await waitFor(
      'the released job to run again and complete',
      async () => (await view(stuck)).state === 'completed',
      15_000,
    );
    assert.equal((await f.store.findResult(stuck))?.attempt, 2, 'its second delivery stored it');
  });

  it('when stopped while idle, then it ends its waiting reserves at once instead of waiting out the reserve timeout', async () => {
    const { log, records } = capturingLogger();
    const reserveTimeoutSeconds = 20;
    worker = await startWorker(
      configFor({
        WORKER_CONCURRENCY: '2',
        WORKER_RESERVE_TIMEOUT_SECONDS: String(reserveTimeoutSeconds),
      }),
      { handlers: builtinHandlers(), log },
    );
    // Both slots are inside a blocking reserve on the (empty) tube.
    const waiting = () =>
      beanstalkRaw(port, `stats-tube ${f.tube}`).then((r) =>
        Number(/^current-waiting: (\d+)$/m.exec(r.body ?? '')?.[1] ?? 0),
      );
    await waitFor('both slots to wait in reserve', async () => (await waiting()) === 2);
    const t0 = Date.now();
    await worker.stop(60_000);
    const stoppedMs = Date.now() - t0;
    worker = undefined;
    // A stop that let the reserves run out would take the whole reserve timeout (20 s; the
    // grace, 60 s, never cuts it short); ending them takes milliseconds. Half the timeout
    // leaves a loaded machine all the room it needs and still tells the two apart.
    assert.ok(
      stoppedMs < (reserveTimeoutSeconds * 1000) / 2,
      `stopped in ${stoppedMs} ms; the reserve timeout is ${reserveTimeoutSeconds} s`,
    );
    assert.equal(await waiting(), 0, 'no connection is left waiting in beanstalkd');
    assert.deepEqual(
      records.filter((r) => r.msg === 'worker stopped').map((r) => r.graceful),
      [true],
    );
  });

  it('when idle, then two slots wait in beanstalkd and the rest in the worker, and a burst still runs on every slot', async () => {
    const { log } = capturingLogger();
    const slots = 8;
    let running = 0;
    let most = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const held: Handler = async (_payload, context) => {
      running += 1;
      most = Math.max(most, running);
      await gate;
      running -= 1;
      return { hash: hashPayload(context.rawPayload) };
    };
    // Slots that finish a job reserve again (their delete goes with it): once that reserve
    // times out, all but two park again.
    worker = await startWorker(
      configFor({ WORKER_CONCURRENCY: String(slots), WORKER_RESERVE_TIMEOUT_SECONDS: '2' }),
      { handlers: new Map([['hash', held]]), log },
    );
    const tubeStat = async (name: string) =>
      Number(
        new RegExp(`^${name}: (\\d+)$`, 'm').exec(
          (await beanstalkRaw(port, `stats-tube ${f.tube}`)).body ?? '',
        )?.[1],
      );
    const settled = async () =>
      (await tubeStat('current-watching')) === slots && (await tubeStat('current-waiting')) === 2;
    await waitFor('every slot to watch the tube, two of them in a reserve', settled);
    // Sampled across a reserve timeout and a half: the two time out and reserve again, the
    // other six never come (all eight wait in beanstalkd when every slot reserves).
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      assert.ok((await tubeStat('current-waiting')) <= 2, 'the other six slots do not reserve while idle');
    }
    const ids = await Promise.all(Array.from({ length: slots }, (_, i) => post(`{"burst":${i}}`)));
    await waitFor('every slot to run a job of the burst at once', () => running === slots);
    assert.equal(most, slots);
    release();
    for (const id of ids) {
      await waitFor(`job ${id} to complete`, async () => (await view(id)).state === 'completed');
    }
    await waitFor('two slots to wait in beanstalkd again', settled);
  });

  it('when stopped with a job in hand, then the job finishes and is stored before the worker stops', async () => {
    const { log, records } = capturingLogger();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = false;
    const slow: Handler = async (_payload, context) => {
      started = true;
      await gate;
      return { hash: hashPayload(context.rawPayload) };
    };
    worker = await startWorker(configFor({ WORKER_CONCURRENCY: '2' }), {
      handlers: new Map([['hash', slow]]),
      log,
    });
    const id = await post('{"slow":1}');
    await waitFor('the handler to start', () => started);
    const stopping = worker.stop(30_000);
    await waitFor('the worker to start stopping', () => records.some((r) => r.msg === 'worker stopping'));
    assert.equal(await f.store.findResult(id), null, 'still running when the stop began');
    release();
    await stopping;
    worker = undefined;
    assert.equal((await view(id)).state, 'completed', 'the job in hand finished before the worker stopped');
    assert.deepEqual(
      records.filter((r) => r.msg === 'worker stopped').map((r) => r.graceful),
      [true],
      'within the grace, not cut short',
    );
    assert.equal((await tubeCounts(port, f.tube)).current, 0, 'and it left beanstalkd');
  });

  it('when two workers share 200 jobs, then each job ran to completion exactly once and has the right hash', async () => {
    const { log } = capturingLogger();
    // The built-in hash handler, counting per job the runs that returned a result: an
    // outcome's unique `_id` hides a second run, this count does not.
    const hash = builtinHandlers().get('hash');
    assert.ok(hash);
    const completions = new Map<string, number>();
    const counting: Handler = async (payload, context) => {
      const result = await hash(payload, context);
      completions.set(context.jobId, (completions.get(context.jobId) ?? 0) + 1);
      return result;
    };
    const handlers = new Map([['hash', counting]]);
    worker = await startWorker(configFor({ WORKER_CONCURRENCY: '4' }), { handlers, log });
    const other = await startWorker(configFor({ WORKER_CONCURRENCY: '4', WORKER_NAME: 'itest2' }), {
      handlers,
      log,
    });
    try {
      const bodies = Array.from({ length: 200 }, (_, i) => JSON.stringify({ i, id: newJobId() }));
      const ids = await Promise.all(bodies.map((b) => post(b)));
      await waitFor(
        'all outcomes',
        async () => (await withMongo(f.dbName, (db) => db.collection('results').countDocuments())) === 200,
      );
      // Every copy gone: nothing left that could still run a job again.
      await waitFor(
        'every copy to leave beanstalkd',
        async () => (await tubeCounts(port, f.tube)).current === 0,
      );
      assert.equal((await tubeCounts(port, f.tube)).total, 200, 'one copy put per job');
      const results = await withMongo(f.dbName, (db) => db.collection('results').find({}).toArray());
      const byId = new Map(results.map((r) => [String(r._id), r]));
      for (const [i, id] of ids.entries()) assert.equal(byId.get(id)?.result?.hash, hashPayload(bodies[i]!));
      const ranOtherThanOnce = ids.filter((id) => completions.get(id) !== 1);
      assert.deepEqual(
        ranOtherThanOnce.map((id) => [id, completions.get(id) ?? 0]),
        [],
        'every job ran to completion exactly once',
      );
      assert.equal(completions.size, 200, 'and no other job ran');
    } finally {
      await other.stop(2000);
    }
  });
});
