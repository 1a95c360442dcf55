/**
 * `npm run bench:events`: server-sent events fanned out to many clients. Built manager and
 * worker on their own beanstalkd and FerretDB; N clients hold `GET /events?type=hash` open on
 * the manager while jobs run; for each `completed` event each client gets, the latency is from
 * the job's end (the worker's `finishedAt`, carried as the event's `at`) to the client holding
 * it. The baseline, in the same run, is one client. Clients run in this process, beside the
 * manager and worker on the same two cores: the figures include their parsing.
 * `--quick`: 200 clients and 100 jobs instead of 1,000 and 300.
 * Not a test: it prints figures (issue "completion push": SSE fan-out to 1,000 clients).
 */
import './no-orphans.js';
import http from 'node:http';
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
import { rssMb, spawnNode, stop } from './clients.js';
import { fmt, latencySummary } from './format.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'index.js');
const say = (line: string) => process.stdout.write(`${line}\n`);
const quick = benchArgs(import.meta.url, { quick: { type: 'boolean' } }).values.quick === true;
const CLIENTS = quick ? 200 : 1000;
const JOBS = quick ? 100 : 300;

const summary = latencySummary;

interface Listener {
  /** Latency of each completed event, by job id. */
  completed: Map<string, number>;
  close(): void;
}

/** One event-stream client that records, for each `completed` event, its latency now. */
function listen(url: string): Promise<Listener> {
  return new Promise((resolveListener, reject) => {
    const completed = new Map<string, number>();
    const req = http.get(url, { headers: { Accept: 'text/event-stream' }, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET /events answered ${res.statusCode}`));
        res.resume();
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!block.includes('event: completed')) continue;
          const data = block.slice(block.indexOf('data: ') + 6);
          const event = JSON.parse(data) as { id: string; at: string };
          completed.set(event.id, Date.now() - Date.parse(event.at));
        }
      });
      res.on('error', () => undefined);
      resolveListener({ completed, close: () => req.destroy() });
    });
  });
}

async function postJobs(base: string, count: number): Promise<string[]> {
  const lines = Array.from({ length: count }, (_, i) => JSON.stringify({ i }));
  const res = await fetch(`${base}/jobs/batch`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-ndjson' },
    body: lines.join('\n'),
  });
  const answer = (await res.json()) as { jobs: Array<{ id: string }> };
  return answer.jobs.map((job) => job.id);
}

/** Opens `clients` streams, runs `JOBS` jobs, and reports what the streams saw. */
async function round(base: string, pid: number, clients: number): Promise<void> {
  const listeners: Listener[] = [];
  const rssBefore = rssMb(pid);
  // A few hundred at a time: the listen backlog is 511.
  for (let start = 0; start < clients; start += 250) {
    listeners.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(250, clients - start) }, () => listen(`${base}/events?type=hash`)),
      )),
    );
  }
  const rssOpen = rssMb(pid);
  const started = Date.now();
  // Spread over about three seconds, in batches of ten.
  const ids: string[] = [];
  for (let sent = 0; sent < JOBS; sent += 10) {
    ids.push(...(await postJobs(base, Math.min(10, JOBS - sent))));
    await new Promise((r) => setTimeout(r, 100));
  }
  const deadline = Date.now() + 60_000;
  const all = () => listeners.every((l) => ids.every((id) => l.completed.has(id)));
  while (!all() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const latencies = listeners.flatMap((l) => ids.map((id) => l.completed.get(id) ?? Number.NaN));
  const missing = latencies.filter(Number.isNaN).length;
  const rssPeak = rssMb(pid);
  for (const listener of listeners) listener.close();
  say(
    `${fmt(clients)} client${clients === 1 ? '' : 's'}, ${fmt(ids.length)} jobs in ${fmt((Date.now() - started) / 1000, 1)} s: end -> client ${summary(latencies.filter((ms) => !Number.isNaN(ms)))}; ${fmt(missing)} missing; manager RSS ${fmt(rssBefore)} MB idle, ${fmt(rssOpen)} MB with the streams open, ${fmt(rssPeak)} MB after the events`,
  );
}

async function main(): Promise<void> {
  installBackends();
  const beanstalkd = await startBeanstalkd({});
  const mongo = await startMongoServer();
  const port = await freePort();
  const env = {
    BEANSTALK_PORT: String(beanstalkd.port),
    MONGO_URL: mongo.url,
    MONGO_DB: 'bench-events',
    LOG_LEVEL: 'warn',
  };
  const manager = spawnNode([cli, 'manager'], {
    ...env,
    MANAGER_LISTEN_PORT: String(port),
    MANAGER_LISTEN_HOST: '127.0.0.1',
    MANAGER_MAX_CONNECTIONS: String(CLIENTS + 500),
    MAX_EVENT_STREAMS: String(CLIENTS + 100),
  });
  const worker = spawnNode([cli, 'worker'], { ...env, WORKER_WORK_DELAY_MS: '20-50' });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, 30_000, manager);
    say(`events bench${quick ? ' (quick)' : ''}: one manager, one worker; GET /events?type=hash`);
    await round(base, manager.pid as number, 1);
    await round(base, manager.pid as number, CLIENTS);
  } finally {
    await stop(worker);
    await stop(manager);
    await mongo.stop();
    await beanstalkd.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
