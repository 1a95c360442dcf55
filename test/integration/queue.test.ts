/**
 * The queue adapter against a real beanstalkd: one regression test per jackd defect in
 * docs/facts.md ("jackd 2.2.2"). Queue state is checked with raw protocol commands, not
 * through the adapter.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalServer, startBeanstalkd } from '../../src/local/servers.js';
import {
  createConsumer,
  createQueueClient,
  type QueueClient,
  QueueErrorCode,
} from '../../src/queue/index.js';
import {
  backends,
  beanstalkRaw,
  isolation,
  type SilentServer,
  startSilentServer,
  startTcpProxy,
  tubeCounts,
  waitFor,
} from '../support/harness.js';

const OPTIONS = { priority: 100, delay: 0, ttr: 60 };

function clientFor(
  port: number,
  extra: { connectTimeoutMs?: number; commandTimeoutMs?: number; inspectors?: number } = {},
): QueueClient {
  return createQueueClient({
    host: '127.0.0.1',
    port,
    connectTimeoutMs: extra.connectTimeoutMs ?? 1000,
    commandTimeoutMs: extra.commandTimeoutMs ?? 2000,
    inspectors: extra.inspectors ?? 1,
  });
}

function consumerFor(
  port: number,
  tube: string,
  extra: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {},
) {
  return createConsumer({
    host: '127.0.0.1',
    port,
    connectTimeoutMs: extra.connectTimeoutMs ?? 1000,
    commandTimeoutMs: extra.commandTimeoutMs ?? 2000,
    tubes: [tube],
  });
}

/**
 * Timeouts far above any bound a test sets on "fast": an answer within the bound cannot have
 * come from waiting out a timeout, and a loaded machine still has seconds to spare.
 */
const PATIENT = { connectTimeoutMs: 20_000, commandTimeoutMs: 20_000 };
/** "At once", as opposed to after one of the PATIENT timeouts. */
const FAST_MS = 10_000;

/** Fails the test if anything rejects unhandled or throws uncaught while `fn` runs. */
async function withoutStrayErrors(fn: () => Promise<void>): Promise<void> {
  const strays: unknown[] = [];
  const onStray = (error: unknown) => strays.push(error);
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);
  try {
    await fn();
    // Give late socket events a turn to surface.
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('unhandledRejection', onStray);
    process.off('uncaughtException', onStray);
  }
  assert.deepEqual(strays, [], 'no unhandled rejections or uncaught errors');
}

describe('queue adapter on a real beanstalkd (jackd 2.2.2 defects)', function () {
  this.timeout(30_000);
  let port: number;
  let client: QueueClient;
  let tube: string;

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(() => {
    tube = `${isolation('queue').tubePrefix}hash`;
    client = clientFor(port);
  });
  afterEach(async () => {
    await client.close();
  });

  it('when stats-job, put, peek and stats run concurrently on one connection, then every call settles with its own answer', async () => {
    const first = await client.put(tube, '{"n":0}', OPTIONS);
    for (let round = 0; round < 50; round += 1) {
      const [stats, putId, peeked, server, again] = await Promise.all([
        client.statsJob(first),
        client.put(tube, JSON.stringify({ n: round + 1 }), OPTIONS),
        client.peek(first),
        client.stats(),
        client.statsJob(first),
      ]);
      assert.equal(stats.id, first);
      assert.equal(stats.tube, tube);
      assert.match(putId, /^\d+$/);
      assert.equal(peeked, '{"n":0}');
      assert.ok(server.maxJobSize > 0);
      assert.equal(again.id, first);
    }
    assert.equal((await tubeCounts(port, tube)).ready, 51);
  });

  it('when an id carries CR/LF, then it never reaches beanstalkd', async () => {
    const id = await client.put(tube, '{"keep":"me"}', OPTIONS);
    for (const call of [
      () => client.statsJob(`${id}\r\ndelete ${id}`),
      () => client.peek(`${id}\r\ndelete ${id}`),
      () => client.deleteJob(`${id}\r\n`),
      () => client.kickJob(`${id}\r\n`),
      () => client.inspectJob(`${id} `),
    ]) {
      await assert.rejects(call(), { code: QueueErrorCode.INVALID_ARGUMENT });
    }
    const { reply, body } = await beanstalkRaw(port, `peek ${id}`);
    assert.match(reply, /^FOUND /);
    assert.equal(body, '{"keep":"me"}');
  });

  it('when a tube name or option would inject a command, then put refuses it', async () => {
    await assert.rejects(client.put(`${tube}\r\nkick 10`, '{}', OPTIONS), {
      code: QueueErrorCode.INVALID_ARGUMENT,
    });
    await assert.rejects(client.put(tube, '{}', { ...OPTIONS, priority: 1.5 }), {
      code: QueueErrorCode.INVALID_ARGUMENT,
    });
    await assert.rejects(client.put(tube, '{}', { ...OPTIONS, ttr: 0 }), {
      code: QueueErrorCode.INVALID_ARGUMENT,
    });
    await assert.rejects(client.put(tube, '', OPTIONS), { code: QueueErrorCode.INVALID_ARGUMENT });
    assert.equal((await tubeCounts(port, tube)).total, 0);
  });

  it('when bodies hold multi-byte text, then they come back byte for byte (strings only, never Buffers)', async () => {
    const body = JSON.stringify({ text: 'é 😀 \u2028 "quoted" \\ \r\n' });
    const id = await client.put(tube, body, OPTIONS);
    assert.equal(await client.peek(id), body);
    assert.equal((await beanstalkRaw(port, `peek ${id}`)).body, body);
  });

  it('when puts for two tubes interleave, then each job lands in its own tube', async () => {
    const other = `${tube}2`;
    const ids = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        client.put(i % 3 === 0 ? other : tube, JSON.stringify({ i }), OPTIONS),
      ),
    );
    assert.equal(new Set(ids).size, 60);
    assert.equal((await tubeCounts(port, tube)).ready, 40);
    assert.equal((await tubeCounts(port, other)).ready, 20);
    const stats = await Promise.all(ids.map((id) => client.statsJob(id)));
    for (const [i, s] of stats.entries()) assert.equal(s.tube, i % 3 === 0 ? other : tube);
  });

  it('when a delayed job is kicked, then it is ready at once and its kick is counted', async () => {
    const id = await client.put(tube, '{"held":1}', { priority: 0, delay: 600, ttr: 5 });
    assert.equal((await client.statsJob(id)).state, 'delayed');
    await client.kickJob(id);
    const stats = await client.statsJob(id);
    assert.equal(stats.state, 'ready');
    assert.equal(stats.kicks, 1);
    assert.equal((await tubeCounts(port, tube)).ready, 1);
  });

  it('when a job is unknown, then delete, kick-job and stats-job reject NOT_FOUND and inspectJob answers null', async () => {
    await assert.rejects(client.deleteJob('99999999'), { code: QueueErrorCode.NOT_FOUND });
    await assert.rejects(client.kickJob('99999999'), { code: QueueErrorCode.NOT_FOUND });
    await assert.rejects(client.statsJob('99999999'), { code: QueueErrorCode.NOT_FOUND });
    assert.equal(await client.inspectJob('99999999'), null);
  });

  it("when a worker's next reserve goes out with its last delete, then each settles with its own answer", async () => {
    const bodies = Array.from({ length: 50 }, (_, i) => `{"n":${i},"text":"zoë"}`);
    for (const body of bodies) await client.put(tube, body, OPTIONS);
    const consumer = consumerFor(port, tube);
    try {
      const seen: string[] = [];
      let job = await consumer.reserve(1);
      while (job) {
        seen.push(job.body);
        // Both on one connection, the reserve written before the delete's answer is read.
        const deleting = consumer.delete(job.beanstalkId);
        const next = consumer.reserve(0);
        await deleting;
        job = await next;
      }
      assert.deepEqual(seen, bodies, 'every body whole and in order');
      assert.equal((await tubeCounts(port, tube)).current, 0, 'every job deleted');
    } finally {
      await consumer.close();
    }
  });

  it('when a reserve is waiting on its own connection, then puts and stats on the client are not blocked', async () => {
    const consumer = consumerFor(port, tube);
    try {
      const reserving = consumer.reserve(5);
      await waitFor(
        'the consumer to be waiting',
        async () => (await client.statsTube(tube).catch(() => undefined))?.currentWaiting === 1,
      );
      const id = await client.put(tube, '{"for":"consumer"}', OPTIONS);
      const job = await reserving;
      assert.deepEqual(job, { beanstalkId: id, body: '{"for":"consumer"}' });
      assert.equal((await client.statsJob(id)).state, 'reserved');
      await consumer.delete(id);
      assert.equal((await tubeCounts(port, tube)).total, 1);
      assert.equal(await client.inspectJob(id), null);
      assert.equal(await consumer.reserve(0), null, 'an empty tube times out to null');
    } finally {
      await consumer.close();
    }
  });

  describe('with a beanstalkd of its own', () => {
    let own: LocalServer | undefined;
    afterEach(async () => {
      await own?.stop();
      own = undefined;
    });

    it('when beanstalkd is killed, then a pending reserve and later calls fail fast; after a restart a fresh client carries on', async () => {
      own = await startBeanstalkd();
      const ownPort = own.port;
      const ownClient = clientFor(ownPort, PATIENT);
      const consumer = consumerFor(ownPort, tube, PATIENT);
      try {
        await withoutStrayErrors(async () => {
          await ownClient.put(tube, '{"a":1}', OPTIONS);
          const job = await consumer.reserve(1);
          assert.ok(job);
          // The reserve would wait 30 s, and its command timeout 20 s more: settling within
          // FAST_MS can only come from noticing the closed connection.
          const pending = assert.rejects(consumer.reserve(30), { code: QueueErrorCode.UNAVAILABLE });
          const killedAt = Date.now();
          await own!.kill();
          await pending;
          const settledMs = Date.now() - killedAt;
          assert.ok(settledMs < FAST_MS, `the pending reserve settled in ${settledMs} ms`);
          const started = Date.now();
          await assert.rejects(ownClient.put(tube, '{"a":2}', OPTIONS), { code: QueueErrorCode.UNAVAILABLE });
          await assert.rejects(ownClient.stats(), { code: QueueErrorCode.UNAVAILABLE });
          await assert.rejects(consumer.reserve(1), { code: QueueErrorCode.UNAVAILABLE });
          const failedMs = Date.now() - started;
          assert.ok(
            failedMs < FAST_MS,
            `calls against a dead server failed in ${failedMs} ms, not after a timeout`,
          );

          own = await startBeanstalkd({ port: ownPort });
          const id = await waitFor('the client to reconnect', () =>
            ownClient.put(tube, '{"a":3}', OPTIONS).catch(() => undefined),
          );
          assert.equal((await ownClient.statsJob(id)).tube, tube);
          const again = await consumer.reserve(2);
          assert.equal(again?.body, '{"a":3}', 'the new consumer connection watches the same tube');
        });
      } finally {
        await consumer.close();
        await ownClient.close();
      }
    });

    it('when thousands of puts are sent at once to a beanstalkd that fsyncs every write, then none times out waiting behind the others', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dw-fsync-'));
      own = await startBeanstalkd({ binlogDir: dir, fsyncMs: 0 });
      // A timeout far above one put's time on the server (an fsync stalls for hundreds of ms
      // when the disk is busy), below 10,000 puts' time (2–8 s here).
      const timeoutMs = 1000;
      const durable = clientFor(own.port, { commandTimeoutMs: timeoutMs });
      try {
        const started = Date.now();
        const settled = await Promise.allSettled(
          Array.from({ length: 10_000 }, (_, i) => durable.put(tube, `{"n":${i}}`, OPTIONS)),
        );
        const tookMs = Date.now() - started;
        assert.ok(
          tookMs > timeoutMs,
          `the puts took ${tookMs} ms, under the timeout: a clock started when a put was queued would not have been caught`,
        );
        const failed = settled.filter((r) => r.status === 'rejected');
        assert.deepEqual(
          failed.slice(0, 1).map((r) => String((r as PromiseRejectedResult).reason)),
          [],
          `${failed.length} puts failed`,
        );
        assert.equal((await tubeCounts(own.port, tube)).ready, 10_000);
      } finally {
        await durable.close();
        await own.stop();
        own = undefined;
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('when a job is bigger than max-job-size, then put rejects JOB_TOO_BIG and the connection stays usable', async () => {
      own = await startBeanstalkd({ maxJobSize: 1024 });
      const small = clientFor(own.port);
      try {
        assert.equal((await small.stats()).maxJobSize, 1024);
        await assert.rejects(small.put(tube, 'x'.repeat(2000), OPTIONS), {
          code: QueueErrorCode.JOB_TOO_BIG,
        });
        const id = await small.put(tube, '{"fits":true}', OPTIONS);
        assert.equal(await small.peek(id), '{"fits":true}');
      } finally {
        await small.close();
      }
    });
  });

  describe('with a server that accepts connections and never answers', () => {
    let silent: SilentServer;
    before(async () => {
      silent = await startSilentServer();
    });
    after(() => silent.close());

    it('when a command gets no answer, then it rejects TIMEOUT within the command timeout and the connection is dropped', async () => {
      const hung = clientFor(silent.port, { commandTimeoutMs: 300 });
      try {
        await withoutStrayErrors(async () => {
          // TIMEOUT is only ever the command timeout's answer, so the codes say the 300 ms
          // applied; the time says each call waited it out (a lower bound: no load makes it
          // flaky) and was not left to hang (mocha's 30 s would fail the test first).
          const started = Date.now();
          await assert.rejects(hung.stats(), { code: QueueErrorCode.TIMEOUT });
          await assert.rejects(hung.put(tube, '{}', OPTIONS), {
            code: QueueErrorCode.TIMEOUT,
            inDoubt: true,
          });
          const elapsed = Date.now() - started;
          assert.ok(elapsed >= 2 * 300, `both waited out their command timeout (${elapsed} ms)`);
          await waitFor('the timed-out connections to be closed', () => silent.sockets.size === 0, FAST_MS);
        });
      } finally {
        await hung.close();
      }
    });
  });

  it('when nothing listens, then calls reject UNAVAILABLE at once, and a put that never went out is not in doubt', async () => {
    const nowhere = clientFor(1, PATIENT);
    try {
      const started = Date.now();
      await assert.rejects(nowhere.put(tube, '{}', OPTIONS), {
        code: QueueErrorCode.UNAVAILABLE,
        inDoubt: false,
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed < FAST_MS, `refused in ${elapsed} ms, not after the 20 s connect timeout`);
    } finally {
      await nowhere.close();
    }
  });

  it('when the connection closes after a put went out, then put rejects in doubt and beanstalkd may hold the job', async () => {
    const proxy = await startTcpProxy(port);
    const cut = clientFor(proxy.port);
    try {
      await withoutStrayErrors(async () => {
        await cut.put(tube, '{"first":1}', OPTIONS);
        proxy.cutAfterNextPut();
        await assert.rejects(cut.put(tube, '{"lost reply":1}', OPTIONS), {
          code: QueueErrorCode.UNAVAILABLE,
          inDoubt: true,
        });
        assert.equal((await tubeCounts(port, tube)).ready, 2, 'the put whose reply was lost landed');
        // A fresh connection carries on.
        await cut.put(tube, '{"after":1}', OPTIONS);
        assert.equal((await tubeCounts(port, tube)).ready, 3);
      });
    } finally {
      await cut.close();
      await proxy.close();
    }
  });
});
