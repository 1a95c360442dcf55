/**
 * The workers' shared stats-job connection (queue/job-stats-lane.ts) against a real beanstalkd:
 * it speaks the protocol itself, so each jackd defect it must not share gets its test here —
 * several replies with bodies in one read, injected ids, a dead or silent server.
 */
import assert from 'node:assert/strict';
import { type LocalServer, startBeanstalkd } from '../../src/local/servers.js';
import {
  createJobStatsLane,
  createQueueClient,
  type JobStatsLane,
  type QueueClient,
  QueueErrorCode,
} from '../../src/queue/index.js';
import { LANE_MAX_IN_FLIGHT } from '../../src/queue/job-stats-lane.js';
import {
  backends,
  beanstalkRaw,
  isolation,
  type SilentServer,
  startSilentServer,
  startTcpProxy,
  type TcpProxy,
  waitFor,
} from '../support/harness.js';

const OPTIONS = { priority: 100, delay: 0, ttr: 60 };
/** Far above any bound a test sets on "fast" (see FAST_MS). */
const PATIENT = { connectTimeoutMs: 20_000, commandTimeoutMs: 20_000 };
const FAST_MS = 10_000;

function laneTo(port: number, timeouts: { connectTimeoutMs: number; commandTimeoutMs: number } = PATIENT) {
  return createJobStatsLane({ host: '127.0.0.1', port, ...timeouts });
}

describe('stats-job lane on a real beanstalkd (queue/job-stats-lane)', function () {
  this.timeout(30_000);
  let client: QueueClient;
  let tube: string;
  let lane: JobStatsLane | undefined;
  let proxy: TcpProxy | undefined;

  beforeEach(() => {
    tube = `${isolation('lane').tubePrefix}hash`;
    client = createQueueClient({
      host: '127.0.0.1',
      port: backends().beanstalk.port,
      connectTimeoutMs: 1000,
      commandTimeoutMs: 2000,
      inspectors: 1,
    });
  });
  afterEach(async () => {
    lane?.close();
    lane = undefined;
    await proxy?.close();
    proxy = undefined;
    await client.close();
  });

  it('when 300 jobs are asked about at once, then they leave in a few writes, replies come several to a read, and each answer is its own job', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 300; i += 1)
      ids.push(await client.put(tube, JSON.stringify({ i }), { ...OPTIONS, priority: i }));
    const writes: number[] = [];
    let mostRepliesInOneChunk = 0;
    proxy = await startTcpProxy(backends().beanstalk.port, {
      sent: (_, chunk) => writes.push(chunk.toString('latin1').split('stats-job ').length - 1),
      received: (_, chunk) => {
        mostRepliesInOneChunk = Math.max(
          mostRepliesInOneChunk,
          chunk.toString('latin1').split('OK ').length - 1,
        );
      },
      closed: () => undefined,
    });
    lane = laneTo(proxy.port);

    const answers = await Promise.all(ids.map((id) => lane!.statsJob(id)));

    answers.forEach((stats, i) => {
      assert.equal(stats.id, ids[i]);
      assert.equal(stats.tube, tube);
      assert.equal(stats.priority, i, 'the body read is the one of the job asked about');
      assert.equal(stats.state, 'ready');
    });
    assert.equal(
      writes.reduce((a, b) => a + b, 0),
      300,
    );
    // The questions of one turn leave together, up to the lane's bound; the rest leave as answers
    // make room, in as many writes as the answers took reads (more on a busy machine: seen 9).
    assert.equal(writes[0], LANE_MAX_IN_FLIGHT, `the first write carried ${writes[0]} questions`);
    assert.ok(writes.length <= 1 + 300 - LANE_MAX_IN_FLIGHT, `300 questions left in ${writes.length} writes`);
    assert.ok(mostRepliesInOneChunk > 1, 'beanstalkd sent several replies with bodies in one chunk');
  });

  it('when one of several ids is unknown, then that one is NOT_FOUND and the others, before and after it, are answered', async () => {
    const [a, b] = [await client.put(tube, '{"a":1}', OPTIONS), await client.put(tube, '{"b":1}', OPTIONS)];
    lane = laneTo(backends().beanstalk.port);

    const [first, unknown, last] = await Promise.allSettled([
      lane.statsJob(a),
      lane.statsJob('99999999999'),
      lane.statsJob(b),
    ]);

    assert.equal(first.status === 'fulfilled' && first.value.id, a);
    assert.equal(unknown.status, 'rejected');
    assert.equal((unknown as PromiseRejectedResult).reason.code, QueueErrorCode.NOT_FOUND);
    assert.equal(last.status === 'fulfilled' && last.value.id, b);
    assert.equal((await lane.statsJob(a)).id, a, 'the connection keeps answering');
  });

  it('when an id carries CR/LF, then it never reaches beanstalkd', async () => {
    const id = await client.put(tube, '{"keep":"me"}', OPTIONS);
    lane = laneTo(backends().beanstalk.port);

    await assert.rejects(lane.statsJob(`${id}\r\ndelete ${id}`), { code: QueueErrorCode.INVALID_ARGUMENT });
    await assert.rejects(lane.statsJob(''), { code: QueueErrorCode.INVALID_ARGUMENT });

    const { reply, body } = await beanstalkRaw(backends().beanstalk.port, `peek ${id}`);
    assert.match(reply, /^FOUND /);
    assert.equal(body, '{"keep":"me"}');
  });

  it('when nothing listens, then questions reject UNAVAILABLE at once, not after the connect timeout', async () => {
    lane = laneTo(1);
    const started = Date.now();
    await assert.rejects(lane.statsJob('1'), { code: QueueErrorCode.UNAVAILABLE });
    assert.ok(Date.now() - started < FAST_MS);
  });

  it('when the lane is closed, then questions waiting and later ones reject UNAVAILABLE', async () => {
    lane = laneTo(backends().beanstalk.port);
    const waiting = lane.statsJob('1');
    lane.close();
    await assert.rejects(waiting, { code: QueueErrorCode.UNAVAILABLE });
    await assert.rejects(lane.statsJob('1'), { code: QueueErrorCode.UNAVAILABLE });
  });

  describe('with a beanstalkd of its own', () => {
    let own: LocalServer | undefined;
    afterEach(async () => {
      await own?.stop();
      own = undefined;
    });

    it('when beanstalkd is killed, then questions fail fast; after a restart the lane connects again', async () => {
      own = await startBeanstalkd();
      const ownPort = own.port;
      const ownClient = createQueueClient({ host: '127.0.0.1', port: ownPort, ...PATIENT, inspectors: 1 });
      try {
        const id = await ownClient.put(tube, '{"a":1}', OPTIONS);
        lane = laneTo(ownPort);
        assert.equal((await lane.statsJob(id)).id, id);

        const killedAt = Date.now();
        await own.kill();
        await assert.rejects(lane.statsJob(id), { code: QueueErrorCode.UNAVAILABLE });
        assert.ok(Date.now() - killedAt < FAST_MS, 'not after the 20 s command timeout');

        own = await startBeanstalkd({ port: ownPort });
        await assert.rejects(
          lane.statsJob(id),
          { code: QueueErrorCode.NOT_FOUND },
          'a new server, no such job',
        );
        const again = createQueueClient({ host: '127.0.0.1', port: ownPort, ...PATIENT, inspectors: 1 });
        try {
          const fresh = await again.put(tube, '{"a":2}', OPTIONS);
          assert.equal((await lane.statsJob(fresh)).id, fresh);
        } finally {
          await again.close();
        }
      } finally {
        await ownClient.close();
      }
    });
  });

  describe('with a server that accepts connections and never answers', () => {
    let silent: SilentServer;
    before(async () => {
      silent = await startSilentServer();
    });
    after(() => silent.close());

    it('when no answer comes, then every question in flight rejects TIMEOUT after the command timeout and the connection is dropped', async () => {
      lane = laneTo(silent.port, { connectTimeoutMs: 1000, commandTimeoutMs: 300 });
      const started = Date.now();
      const results = await Promise.allSettled([lane.statsJob('1'), lane.statsJob('2')]);
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        assert.equal((result as PromiseRejectedResult).reason.code, QueueErrorCode.TIMEOUT);
      }
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 300 && elapsed < FAST_MS, `waited out the 300 ms timeout (${elapsed} ms)`);
      await waitFor('the timed-out connection to be closed', () => silent.sockets.size === 0, FAST_MS);
    });
  });
});
