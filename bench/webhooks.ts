/**
 * `npm run bench:webhooks`: from a job's end to its signed webhook at a receiver, beside the
 * same jobs' `completed` event on `GET /events` (the baseline, measured in the same run). Built
 * manager and worker on their own beanstalkd and FerretDB; the receiver, on loopback
 * (WEBHOOK_ALLOW_PRIVATE=true), checks each signature and answers 200. Latency runs from the
 * job's `finishedAt` (in the webhook's body and the event's `at`) to the receiver, or the event
 * client, holding it. `--quick`: 100 jobs instead of 500. Not a test: it prints figures (issue
 * "completion push").
 */
import './no-orphans.js';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  installBackends,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../src/local/servers.js';
import { benchArgs } from './args.js';
import { spawnNode, stop } from './clients.js';
import { fmt, latencySummary } from './format.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'index.js');
const say = (line: string) => process.stdout.write(`${line}\n`);
const quick = benchArgs(import.meta.url, { quick: { type: 'boolean' } }).values.quick === true;
const JOBS = quick ? 100 : 500;

const summary = latencySummary;

/** A receiver that checks signatures and records, per job, the latency of its first good delivery. */
async function startReceiver(secret: string) {
  const latency = new Map<string, number>();
  let badSignatures = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(req.headers['x-dw-timestamp']);
      const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
      if (req.headers['x-dw-signature'] !== expected) {
        badSignatures += 1;
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(body) as { id: string; finishedAt: string };
      if (!latency.has(event.id)) latency.set(event.id, Date.now() - Date.parse(event.finishedAt));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    latency,
    counts: () => ({ requests, badSignatures }),
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(done));
    },
  };
}

/** The `completed` events of one event stream: latency by job id. */
function listen(url: string): Promise<{ latency: Map<string, number>; close(): void }> {
  return new Promise((resolveListener, reject) => {
    const latency = new Map<string, number>();
    const req = http.get(url, { headers: { Accept: 'text/event-stream' } });
    req.on('error', reject);
    req.on('response', (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!block.includes('event: completed')) continue;
          const event = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { id: string; at: string };
          latency.set(event.id, Date.now() - Date.parse(event.at));
        }
      });
      res.on('error', () => undefined);
      resolveListener({ latency, close: () => req.destroy() });
    });
  });
}

async function main(): Promise<void> {
  installBackends();
  const beanstalkd = await startBeanstalkd({});
  const mongo = await startMongoServer();
  const port = await freePort();
  const secret = randomBytes(24).toString('hex');
  const env = {
    BEANSTALK_PORT: String(beanstalkd.port),
    MONGO_URL: mongo.url,
    MONGO_DB: 'bench-webhooks',
    LOG_LEVEL: 'warn',
    WEBHOOK_SECRET: secret,
    WEBHOOK_ALLOW_PRIVATE: 'true',
  };
  const receiver = await startReceiver(secret);
  const manager = spawnNode([cli, 'manager'], {
    ...env,
    MANAGER_LISTEN_PORT: String(port),
    MANAGER_LISTEN_HOST: '127.0.0.1',
  });
  const worker = spawnNode([cli, 'worker'], { ...env, WORKER_WORK_DELAY_MS: '20-50' });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, 30_000, manager);
    say(
      `webhooks bench${quick ? ' (quick)' : ''}: one manager, one worker (jobs of 20-50 ms), a receiver on loopback`,
    );
    const events = await listen(`${base}/events?type=hash`);
    const ids: string[] = [];
    const started = Date.now();
    // Ten at a time every 100 ms, each with its callback_url.
    for (let sent = 0; sent < JOBS; sent += 10) {
      const lines = Array.from({ length: Math.min(10, JOBS - sent) }, (_, i) =>
        JSON.stringify({ i: sent + i }),
      );
      const res = await fetch(`${base}/jobs/batch?callback_url=${encodeURIComponent(receiver.url)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-ndjson' },
        body: lines.join('\n'),
      });
      const answer = (await res.json()) as { jobs?: Array<{ id: string }> };
      if (!answer.jobs) throw new Error(`the batch was refused: ${JSON.stringify(answer)}`);
      ids.push(...answer.jobs.map((job) => job.id));
      await new Promise((r) => setTimeout(r, 100));
    }
    const deadline = Date.now() + 120_000;
    const done = () => ids.every((id) => receiver.latency.has(id) && events.latency.has(id));
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    events.close();
    const hooks = ids.map((id) => receiver.latency.get(id)).filter((ms): ms is number => ms !== undefined);
    const streamed = ids.map((id) => events.latency.get(id)).filter((ms): ms is number => ms !== undefined);
    const { requests, badSignatures } = receiver.counts();
    say(`${fmt(ids.length)} jobs in ${fmt((Date.now() - started) / 1000, 1)} s`);
    say(`baseline, the completed event on GET /events: end -> client ${summary(streamed)}`);
    say(`the webhook: end -> receiver ${summary(hooks)}`);
    say(
      `${fmt(ids.length - hooks.length)} webhooks missing; ${fmt(requests)} requests for ${fmt(hooks.length)} jobs; ${fmt(badSignatures)} bad signatures`,
    );
  } finally {
    await stop(worker);
    await stop(manager);
    await receiver.close();
    await mongo.stop();
    await beanstalkd.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
