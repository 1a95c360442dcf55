/**
 * Webhooks survive the death of the process delivering them: the built CLI as a manager and
 * worker processes, a receiver that holds the first POST of every delivery open, and a SIGKILL
 * of the worker while it waits for the answer. Another worker must then deliver each webhook
 * again, under the same X-DW-Delivery, and the receiver must see exactly one 200 per delivery
 * answered to a client still connected — none lost, none doubled.
 */
import assert from 'node:assert/strict';
import { freePort, waitForPort } from '../../src/local/servers.js';
import { webhookTube } from '../../src/webhooks/delivery-job.js';
import {
  backendEnv,
  backends,
  dropDatabase,
  isolation,
  spawnCli,
  stopAllSpawned,
  tubeCounts,
  waitFor,
} from '../support/harness.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'e2e-webhook-secret-0123456789abcdef';

interface JobAnswer {
  id: string;
  state: string;
  webhook?: { deliveryId?: string; attempts: number; delivered: boolean; lastStatus?: number | string };
}

describe('webhooks when the delivering worker is killed (processes)', function () {
  this.timeout(120_000);
  let env: Record<string, string>;
  let dbName: string;
  let tubePrefix: string;
  let base: string;
  let receiver: WebhookReceiver | undefined;

  beforeEach(() => {
    const iso = isolation('hookkill');
    dbName = iso.dbName;
    tubePrefix = iso.tubePrefix;
    env = {
      ...backendEnv(iso),
      LOG_LEVEL: 'info',
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_ALLOW_PRIVATE: 'true',
    };
  });
  afterEach(async () => {
    await stopAllSpawned();
    await receiver?.close();
    receiver = undefined;
    await dropDatabase(dbName);
  });

  const getJob = async (id: string) => (await (await fetch(`${base}/jobs/${id}`)).json()) as JobAnswer;

  it('when a worker is SIGKILLed while its webhook POSTs wait for an answer, then another worker delivers each again under the same X-DW-Delivery, and each gets exactly one 200', async () => {
    // The first POST of every delivery is held open; any later one is answered 200.
    const hooks = await startWebhookReceiver(SECRET, (request) => (request.nth === 1 ? 'hold' : 200));
    receiver = hooks;
    const port = await freePort();
    const manager = spawnCli(['manager'], {
      ...env,
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
    });
    await waitForPort(port, 15_000, manager.child);
    base = `http://127.0.0.1:${port}`;
    // Long response timeout: the held POSTs are still waiting when the kill comes.
    const doomed = spawnCli(['worker'], {
      ...env,
      WORKER_NAME: 'doomed',
      WORKER_CONCURRENCY: '2',
      WEBHOOK_CONCURRENCY: '4',
      WEBHOOK_TIMEOUT_MS: '60000',
    });

    const ids: string[] = [];
    for (let n = 0; n < 3; n += 1) {
      const res = await fetch(`${base}/jobs?callback_url=${encodeURIComponent(hooks.url(`/hook/${n}`))}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ n }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      ids.push(((await res.json()) as { id: string }).id);
    }
    await waitFor(
      'every delivery to be held open by the doomed worker',
      () => hooks.held().length === 3,
      30_000,
    );
    const held = hooks.held();
    assert.deepEqual(held.map((r) => r.event?.id).sort(), [...ids].sort());

    doomed.child.kill('SIGKILL');
    assert.equal((await doomed.exited).signal, 'SIGKILL');
    await waitFor(
      'the receiver to see every held client gone',
      () => held.every((r) => r.clientGone),
      10_000,
    );
    // Answered too late: the client is gone, so these 200s reach nobody and do not count.
    hooks.answerHeld(200);

    spawnCli(['worker'], { ...env, WORKER_NAME: 'rescuer', WORKER_CONCURRENCY: '2' });
    for (const id of ids) {
      const done = await waitFor(
        `the webhook of ${id} to be delivered by the second worker`,
        async () => {
          const view = await getJob(id);
          return view.webhook?.delivered ? view : undefined;
        },
        30_000,
      );
      assert.equal(done.state, 'completed');
      assert.equal(done.webhook?.lastStatus, 200);
      const deliveryId = done.webhook?.deliveryId ?? '';
      const first = held.find((r) => r.event?.id === id);
      assert.equal(
        first?.deliveryId,
        deliveryId,
        'the redelivery carries the X-DW-Delivery of the killed attempt',
      );
      const seen = hooks.of(deliveryId);
      assert.equal(seen.length, 2, `two POSTs of ${deliveryId}: the killed one and the redelivery`);
      assert.equal(seen[0]?.clientGone, true);
      assert.equal(seen[1]?.status, 200);
      assert.ok(
        seen.every((r) => r.signatureOk),
        'every POST is signed with the shared secret',
      );
      assert.equal(hooks.successes(deliveryId), 1, 'exactly one 200 answered to a connected client');
    }
    assert.equal(
      new Set(hooks.requests.map((r) => r.deliveryId)).size,
      ids.length,
      'one delivery id per job',
    );
    await waitFor(
      'the webhook tube to be empty',
      async () => (await tubeCounts(backends().beanstalk.port, webhookTube(tubePrefix))).current === 0,
    );
  });
});
