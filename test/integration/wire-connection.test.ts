/**
 * A worker slot's own beanstalkd connection (queue/wire-connection.ts, used by queue/consumer.ts)
 * against a real beanstalkd: it speaks the protocol itself instead of through jackd, so each
 * jackd defect it must not share, and each rule of connection.ts it keeps, gets its test here —
 * bodies longer than a read, many replies with bodies in one read, answers in order past the
 * in-flight bound, a silent server, a close with commands written and waiting.
 */
import assert from 'node:assert/strict';
import { type LocalServer, startBeanstalkd } from '../../src/local/servers.js';
import { MAX_IN_FLIGHT } from '../../src/queue/connection.js';
import {
  type Consumer,
  createConsumer,
  createQueueClient,
  type QueueClient,
  QueueErrorCode,
} from '../../src/queue/index.js';
import { type Reply, WireConnection } from '../../src/queue/wire-connection.js';
import { backends, isolation, type SilentServer, startSilentServer, tubeCounts } from '../support/harness.js';

const OPTIONS = { priority: 100, delay: 0, ttr: 60 };
const PATIENT = { connectTimeoutMs: 20_000, commandTimeoutMs: 20_000 };

describe('a worker slot’s own wire to a real beanstalkd (queue/wire-connection)', function () {
  this.timeout(30_000);
  let tube: string;
  let client: QueueClient | undefined;
  let consumer: Consumer | undefined;
  let wire: WireConnection | undefined;
  let own: LocalServer | undefined;
  let silent: SilentServer | undefined;

  const open = (port = backends().beanstalk.port, timeouts = PATIENT) =>
    WireConnection.open({ host: '127.0.0.1', port, ...timeouts });
  const clientOn = (port: number) =>
    createQueueClient({ host: '127.0.0.1', port, ...PATIENT, inspectors: 1 });

  beforeEach(() => {
    tube = `${isolation('wire').tubePrefix}hash`;
  });
  afterEach(async () => {
    wire?.destroy();
    wire = undefined;
    await consumer?.close();
    consumer = undefined;
    await client?.close();
    client = undefined;
    await own?.stop();
    own = undefined;
    await silent?.close();
    silent = undefined;
  });

  it('when a reserved body spans many reads and a delete goes out with the next reserve, then each body arrives whole and the tube ends empty', async () => {
    own = await startBeanstalkd({ maxJobSize: 1_000_000 });
    client = clientOn(own.port);
    const bodies = ['a', 'b', 'c'].map((c, i) => JSON.stringify({ i, fill: c.repeat(400_000) }));
    for (const body of bodies) await client.put(tube, body, OPTIONS);
    consumer = createConsumer({ host: '127.0.0.1', port: own.port, ...PATIENT, tubes: [tube] });
    const got: string[] = [];
    let job = await consumer.reserve(1);
    while (job) {
      got.push(job.body);
      const deleting = consumer.delete(job.beanstalkId);
      job = await consumer.reserve(0);
      await deleting;
    }
    assert.deepEqual(
      got.map((b) => [b.length, b.slice(0, 12)]),
      bodies.map((b) => [b.length, b.slice(0, 12)]),
    );
    assert.deepEqual(got, bodies);
    assert.equal((await tubeCounts(own.port, tube)).current, 0, 'every job deleted');
  });

  it('when 1,000 peeks with bodies are asked at once, then past the in-flight bound they wait, and each answer is its own job', async () => {
    client = clientOn(backends().beanstalk.port);
    const ids: string[] = [];
    for (let i = 0; i < 500; i++) ids.push(await client.put(tube, JSON.stringify({ i }), OPTIONS));
    wire = await open();
    const connection = wire;
    // Every other id names no job: NOT_FOUND answers sit between FOUND ones with bodies.
    const asked = ids.flatMap((id) => [id, String(Number(id) + 10_000_000)]);
    assert.ok(asked.length > MAX_IN_FLIGHT);
    const answers = await Promise.all(
      asked.map((id) => connection.command('peek', 'pipelined', `peek ${id}\r\n`, (reply: Reply) => reply)),
    );
    const wrong = asked.filter((id, n) => {
      const reply = answers[n]!;
      if (n % 2 === 1) return reply.line !== 'NOT_FOUND';
      return !reply.line.startsWith(`FOUND ${id} `) || reply.body !== JSON.stringify({ i: n / 2 });
    });
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} answers not their own`);
    await client.deleteJob(ids[0]!);
  });

  it('when a reply is not the one wanted, then the command fails with beanstalkd’s word and the connection carries on', async () => {
    client = clientOn(backends().beanstalk.port);
    consumer = createConsumer({
      host: '127.0.0.1',
      port: backends().beanstalk.port,
      ...PATIENT,
      tubes: [tube],
    });
    await assert.rejects(consumer.release('999999999', { priority: 0, delay: 0 }), {
      code: QueueErrorCode.NOT_FOUND,
    });
    await assert.rejects(consumer.statsJob('999999999'), { code: QueueErrorCode.NOT_FOUND });
    const id = await client.put(tube, '{"after":"errors"}', OPTIONS);
    const job = await consumer.reserve(1);
    assert.deepEqual(job, { beanstalkId: id, body: '{"after":"errors"}' });
    assert.equal((await consumer.statsJob(id)).state, 'reserved');
    await consumer.delete(id);
    assert.equal(await consumer.reserve(0), null, 'an empty tube times out to null');
  });

  it('when the connection closes with a reserve written and a delete waiting behind it, then the reserve fails in doubt and the delete plainly', async () => {
    wire = await open();
    const connection = wire;
    await connection.command('watch', 'pipelined', `watch ${tube}\r\n`, (r: Reply) => r.line);
    const reserving = connection.command(
      'reserve-with-timeout',
      'exclusive',
      'reserve-with-timeout 20\r\n',
      (r: Reply) => r,
    );
    const deleting = connection.command('delete', 'pipelined', 'delete 1\r\n', (r: Reply) => r);
    // Written only after the reserve's reply: it is still waiting here.
    await new Promise((resolve) => setImmediate(resolve));
    connection.destroy();
    await assert.rejects(reserving, { code: QueueErrorCode.UNAVAILABLE, inDoubt: true });
    await assert.rejects(deleting, { code: QueueErrorCode.UNAVAILABLE, inDoubt: false });
    await assert.rejects(
      connection.command('delete', 'pipelined', 'delete 1\r\n', (r: Reply) => r),
      { code: QueueErrorCode.UNAVAILABLE },
    );
  });

  it('when the server never answers, then the command rejects TIMEOUT in doubt within its timeout and the connection is dropped', async () => {
    silent = await startSilentServer();
    wire = await open(silent.port, { connectTimeoutMs: 2_000, commandTimeoutMs: 300 });
    const connection = wire;
    const started = Date.now();
    await assert.rejects(
      connection.command('delete', 'pipelined', 'delete 1\r\n', (r: Reply) => r),
      { code: QueueErrorCode.TIMEOUT, inDoubt: true },
    );
    const tookMs = Date.now() - started;
    assert.ok(tookMs >= 250 && tookMs < 5_000, `timed out after ${tookMs} ms`);
    assert.equal(connection.isOpen, false);
  });
});
