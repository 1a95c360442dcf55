/**
 * Signed webhooks on real servers: a manager app and an in-process worker against the test
 * beanstalkd and MongoDB-wire server, delivering to a receiver on loopback that checks every
 * signature and answers 500 twice per delivery before a 200 (docs/completion-design.md,
 * "Webhooks").
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers } from '../../src/handlers/index.js';
import { silentLogger } from '../../src/log.js';
import { webhookTube } from '../../src/webhooks/delivery-job.js';
import { deliveryEnqueuer } from '../../src/webhooks/enqueue.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { backends, startTcpProxy, tubeCounts, waitFor, withMongo } from '../support/harness.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'integration-webhook-secret-0123456789';

interface WebhookView {
  url: string;
  deliveryId?: string;
  attempts: number;
  lastStatus?: number | string;
  delivered: boolean;
}

describe('webhooks on real servers', function () {
  this.timeout(60_000);
  let f: AppFixture;
  let receiver: WebhookReceiver;
  let worker: RunningWorker | undefined;
  let port: number;

  const startDelivering = async (env: Record<string, string> = {}, log = silentLogger()) => {
    worker = await startWorker(
      loadWorkerConfig({
        ...workerEnvFor(f),
        ...env,
        WORKER_NAME: 'hooks',
        WORKER_CONCURRENCY: '2',
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_CONCURRENCY: '4',
        WEBHOOK_RETRY_BASE_MS: '1000',
      }),
      { handlers: builtinHandlers(), log },
    );
  };
  const post = async (query: string, headers: Record<string, string> = {}) => {
    const res = await request(f.app.callback())
      .post(`/jobs?${query}`)
      .set({ 'Content-Type': 'application/json', ...headers })
      .send('{"hook":true}');
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const view = async (id: string) => (await request(f.app.callback()).get(`/jobs/${id}`)).body;
  const delivered = (id: string) =>
    waitFor(
      `the webhook of ${id} to be delivered`,
      async () => {
        const v = await view(id);
        return v.webhook?.delivered === true ? (v as { state: string; webhook: WebhookView }) : undefined;
      },
      30_000,
    );

  before(() => {
    port = backends().beanstalk.port;
  });
  beforeEach(async () => {
    f = await appFixture({ label: 'hooks', webhooks: { enabled: true, allowPrivate: true, urls: {} } });
    // 500 twice per delivery id, then 200.
    receiver = await startWebhookReceiver(SECRET, (req) => (req.nth <= 2 ? 500 : 200));
  });
  afterEach(async () => {
    await worker?.stop(2000);
    worker = undefined;
    await receiver.close();
    await f.close();
  });

  it('when jobs with a callback_url complete, then each gets exactly one 200 after two 500s, under one X-DW-Delivery, and GET shows attempts 3, delivered, last status 200', async () => {
    await startDelivering();
    const ids = await Promise.all([
      post(`callback_url=${encodeURIComponent(receiver.url('/hook?n=1'))}`),
      post(`callback_url=${encodeURIComponent(receiver.url('/hook?n=2'))}`),
      post('', { 'X-Job-Callback-Url': receiver.url('/hook?n=3') }),
      post('type=simulate&mean_ms=0', { 'X-Job-Callback-Url': receiver.url('/hook?n=4') }),
    ]);
    for (const id of ids) {
      const done = await delivered(id);
      assert.equal(done.state, 'completed');
      const { webhook } = done;
      assert.equal(webhook.attempts, 3);
      assert.equal(webhook.lastStatus, 200);
      assert.ok(webhook.deliveryId?.startsWith(`${id}.completed.`), webhook.deliveryId);
      assert.match(webhook.url, /^http:\/\/127\.0\.0\.1:\d+\/hook\?n=\d$/);
      const seen = receiver.of(webhook.deliveryId ?? '');
      assert.deepEqual(
        seen.map((r) => r.status),
        [500, 500, 200],
        'every attempt of a job carries its one delivery id',
      );
      assert.equal(receiver.successes(webhook.deliveryId ?? ''), 1);
      for (const r of seen) {
        assert.equal(r.signatureOk, true);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.match(String(r.headers['user-agent']), /distributed-workers/);
        assert.equal(r.event?.id, id);
        assert.equal(r.event?.state, 'completed');
        assert.equal(r.event?.deliveryId, webhook.deliveryId);
        assert.equal(typeof r.event?.finishedAt, 'string');
        assert.ok(!r.body.includes('"hook":true') && !r.body.includes('payload'), 'never the payload');
      }
    }
    assert.equal(receiver.requests.filter((r) => !r.signatureOk).length, 0, 'no bad signature was sent');
    assert.equal(receiver.requests.length, 3 * ids.length, 'no request beyond three per job');
    await waitFor(
      'the webhook tube to be empty',
      async () => (await tubeCounts(port, webhookTube(f.tubePrefix))).current === 0,
    );
    const stored = await withMongo(f.dbName, (db) => db.collection('deliveries').find().toArray());
    assert.equal(stored.length, ids.length);
    assert.ok(stored.every((d) => d.delivered === true && d.attempts === 3 && d.lastStatus === 200));
  });

  it('when the receiver is given a bad signature, then it refuses it (the check can fail)', async () => {
    const body = '{"id":"x"}';
    const res = await fetch(receiver.url(), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-DW-Delivery': 'forged',
        'X-DW-Timestamp': String(Math.floor(Date.now() / 1000)),
        'X-DW-Signature': `sha256=${'0'.repeat(64)}`,
      },
      body,
    });
    assert.equal(res.status, 401);
    assert.equal(receiver.successes('forged'), 0);
  });

  it('when a job fails for good and another is cancelled, then both are delivered with their state, and a waiting job shows its webhook pending', async () => {
    const cancelled = await post(`delay=600&callback_url=${encodeURIComponent(receiver.url('/cancel'))}`);
    const pending = await view(cancelled);
    assert.deepEqual(pending.webhook, { url: receiver.url('/cancel'), attempts: 0, delivered: false });
    assert.equal((await request(f.app.callback()).delete(`/jobs/${cancelled}`)).status, 200);
    await startDelivering();
    const failed = await post(
      `type=simulate&mean_ms=0&fail_rate=1&attempts=1&callback_url=${encodeURIComponent(receiver.url('/fail'))}`,
    );
    const gone = await delivered(cancelled);
    assert.equal(gone.state, 'cancelled');
    const broke = await delivered(failed);
    assert.equal(broke.state, 'failed');
    const cancelEvent = receiver.of(gone.webhook.deliveryId ?? '').at(-1)?.event;
    assert.equal(cancelEvent?.state, 'cancelled');
    assert.equal(cancelEvent?.event, 'job.cancelled');
    const failEvent = receiver.of(broke.webhook.deliveryId ?? '').at(-1)?.event;
    assert.equal(failEvent?.state, 'failed');
    assert.equal(typeof (failEvent?.error as { message?: unknown } | undefined)?.message, 'string');
    assert.equal(receiver.successes(gone.webhook.deliveryId ?? ''), 1);
    assert.equal(receiver.successes(broke.webhook.deliveryId ?? ''), 1);
  });

  it('when a redelivered job finds its outcome stored already (its first worker died before queueing the delivery), then the delivery is queued from that outcome', async () => {
    const id = await post(`callback_url=${encodeURIComponent(receiver.url('/late'))}`);
    const finishedAt = new Date(Date.now() - 5000);
    await f.store.saveResult({
      _id: id,
      type: 'hash',
      outcome: 'completed',
      result: { algorithm: 'md5', hash: 'stored-by-the-first-worker' },
      worker: 'earlier',
      attempt: 1,
      maxAttempts: 3,
      webhook: true,
      startedAt: finishedAt,
      finishedAt,
      durationMs: 1,
    });
    await startDelivering();
    const done = await delivered(id);
    assert.equal(done.webhook.deliveryId, `${id}.completed.${finishedAt.getTime()}`);
    const event = receiver.of(done.webhook.deliveryId ?? '').at(-1)?.event;
    assert.deepEqual(
      event?.result,
      { algorithm: 'md5', hash: 'stored-by-the-first-worker' },
      'the stored outcome, not a second run',
    );
    await waitFor('the job to leave beanstalkd', async () => (await tubeCounts(port, f.tube)).current === 0);
  });

  it('when beanstalkd does not confirm the delivery put, then the job is released for later, not deleted, and its webhook still arrives once', async () => {
    // The worker reaches beanstalkd through a proxy that cuts the connection carrying the next
    // put (its only puts are deliveries) before the answer comes back: a put in doubt.
    const proxy = await startTcpProxy(port);
    try {
      const records: Array<Record<string, unknown>> = [];
      const log = pino({ level: 'info' }, { write: (line: string) => records.push(JSON.parse(line)) });
      proxy.cutAfterNextPut();
      await startDelivering({ BEANSTALK_PORT: String(proxy.port) }, log);
      const id = await post(`callback_url=${encodeURIComponent(receiver.url('/doubt'))}`);
      await waitFor('the worker to give the job back', () =>
        records.some(
          (r) =>
            r.msg === 'could not queue the webhook delivery; releasing the job for later' && r.jobId === id,
        ),
      );
      const released = await view(id);
      assert.equal(released.state, 'completed', 'the outcome is stored');
      const counts = await tubeCounts(port, f.tube);
      assert.equal(counts.current, 1, 'and the job is still in beanstalkd, not deleted');
      const done = await delivered(id);
      assert.equal(receiver.successes(done.webhook.deliveryId ?? ''), 1, 'one 200 for the delivery');
      await waitFor(
        'the job to leave beanstalkd once its delivery is queued',
        async () => (await tubeCounts(port, f.tube)).current === 0,
        20_000,
      );
      assert.equal(receiver.successes(done.webhook.deliveryId ?? ''), 1, 'still one 200');
    } finally {
      await worker?.stop(2000);
      worker = undefined;
      await proxy.close();
    }
  });

  it('when a delivered webhook is enqueued again (a redelivered job), then it is dropped without a POST', async () => {
    await startDelivering();
    const id = await post(`callback_url=${encodeURIComponent(receiver.url())}`);
    const done = await delivered(id);
    const before = receiver.requests.length;
    const outcome = await f.store.findResult(id);
    assert.ok(outcome?.webhook, 'the outcome says the job has a webhook');
    await deliveryEnqueuer(f.queue, f.tubePrefix)(outcome, done.webhook.url);
    await waitFor('the duplicate to leave the webhook tube', async () => {
      const counts = await tubeCounts(port, webhookTube(f.tubePrefix));
      return counts.total >= 2 && counts.current === 0;
    });
    assert.equal(receiver.requests.length, before, 'no second POST');
    assert.equal(receiver.successes(done.webhook.deliveryId ?? ''), 1);
  });

  it('when a cancel announced its webhook but another outcome was stored instead, then the announced one is dropped unsent; the stored one is delivered', async () => {
    await startDelivering();
    const id = await post(`callback_url=${encodeURIComponent(receiver.url('/raced'))}`);
    const done = await delivered(id);
    const stored = await f.store.findResult(id);
    assert.ok(stored);
    // What a cancel that lost to this completion had announced before its insert was refused.
    const lost = {
      ...stored,
      outcome: 'cancelled' as const,
      finishedAt: new Date(stored.finishedAt.getTime() + 1),
    };
    await deliveryEnqueuer(f.queue, f.tubePrefix)(lost, done.webhook.url, { confirm: true });
    await waitFor('the announced delivery to leave the webhook tube', async () => {
      const counts = await tubeCounts(port, webhookTube(f.tubePrefix));
      return counts.total >= 2 && counts.current === 0;
    });
    assert.equal(
      receiver.requests.filter((r) => r.event?.state === 'cancelled').length,
      0,
      'the cancel that never happened is not announced',
    );
    assert.equal(receiver.successes(done.webhook.deliveryId ?? ''), 1);
  });

  it('when jobs are listed by type and stats are read, then the webhook tube is not taken for a job type', async () => {
    await startDelivering();
    const id = await post(`callback_url=${encodeURIComponent(receiver.url())}`);
    await delivered(id);
    const stats = await request(f.app.callback()).get('/stats');
    assert.equal(stats.status, 200);
    assert.ok(!JSON.stringify(stats.body).includes('_webhooks'), JSON.stringify(stats.body));
  });
});

describe('callback_url refused at POST time', function () {
  this.timeout(30_000);
  let f: AppFixture;
  let port: number;
  afterEach(async () => {
    await f.close();
  });
  before(() => {
    port = backends().beanstalk.port;
  });

  const nothingStored = async () => {
    const [jobs, log] = await withMongo(f.dbName, (db) =>
      Promise.all([db.collection('jobs').countDocuments(), db.collection('job_log').countDocuments()]),
    );
    assert.equal(jobs, 0, 'no job recorded');
    assert.equal(log, 0, 'nothing in the job log');
    assert.equal((await tubeCounts(port, f.tube)).total, 0, 'nothing queued');
  };

  it('when callback_url names a loopback, private, metadata or non-http target, then 400 INVALID_CALLBACK_URL and nothing is stored or queued', async () => {
    f = await appFixture({ label: 'hostile', webhooks: { enabled: true, allowPrivate: false, urls: {} } });
    const hostile = [
      'http://127.0.0.1:8080/',
      'http://2130706433/',
      'http://0x7f000001/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::1]/',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://192.168.0.10/',
      'http://100.64.1.1/',
      'http://localhost:3000/',
      'file:///etc/passwd',
      'http://user:pass@example.com/',
      `https://example.com/${'x'.repeat(2100)}`,
    ];
    for (const url of hostile) {
      const viaQuery = await request(f.app.callback())
        .post(`/jobs?callback_url=${encodeURIComponent(url)}`)
        .set('Content-Type', 'application/json')
        .send('{}');
      assert.equal(viaQuery.status, 400, url);
      assert.equal(viaQuery.body.error.code, 'INVALID_CALLBACK_URL', url);
      const viaHeader = await request(f.app.callback())
        .post('/jobs')
        .set({
          'Content-Type': 'application/json',
          'X-Job-Callback-Url': url,
          'Idempotency-Key': 'hostile-key-1',
        })
        .send('{}');
      assert.equal(viaHeader.status, 400, url);
      assert.equal(viaHeader.body.error.code, 'INVALID_CALLBACK_URL', url);
    }
    const batch = await request(f.app.callback())
      .post('/jobs/batch')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify([{ payload: {} }, { payload: {}, callback_url: 'http://127.0.0.1/' }]));
    assert.equal(batch.status, 400);
    assert.equal(batch.body.error.code, 'INVALID_BATCH');
    assert.ok(JSON.stringify(batch.body).includes('INVALID_CALLBACK_URL'), JSON.stringify(batch.body));
    await nothingStored();
    // The key used with refused requests was never claimed: a good request takes it.
    const good = await request(f.app.callback())
      .post('/jobs?callback_url=https%3A%2F%2Fhooks.example.com%2Fdw')
      .set({ 'Content-Type': 'application/json', 'Idempotency-Key': 'hostile-key-1' })
      .send('{}');
    assert.equal(good.status, 202);
  });

  it('when the manager has no WEBHOOK_SECRET, then callback_url is 400 WEBHOOKS_DISABLED and nothing is stored or queued', async () => {
    f = await appFixture({ label: 'nosecret' });
    const res = await request(f.app.callback())
      .post('/jobs?callback_url=https%3A%2F%2Fhooks.example.com%2Fdw')
      .set('Content-Type', 'application/json')
      .send('{}');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'WEBHOOKS_DISABLED');
    await nothingStored();
  });
});
