/**
 * `npm run bench:hostile`: the most expensive request of each kind a client may send, three
 * at once, against a built manager on its own beanstalkd and FerretDB. For each kind it
 * prints the answers, how long they took, the manager CPU they cost, `/healthz`'s latency
 * while they ran (beside its latency idle, measured first in the same run) and the manager's
 * RSS; at the end, the RSS once the manager is idle again beside the RSS it started with.
 * Takes no flags. Not a test: it reports (issue "Security, round two": under 1 s of CPU per
 * request, /healthz under 100 ms meanwhile, RSS back to its baseline after).
 */
import './no-orphans.js';
import { readFileSync } from 'node:fs';
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
import { fmt, pct } from './format.js';

/** No flags: only --help; anything else stops here rather than being ignored. */
benchArgs(import.meta.url, {});
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'index.js');
const say = (line: string) => process.stdout.write(`${line}\n`);
const axis = (n: number) => Array.from({ length: n }, (_, i) => i);
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

interface Kind {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  contentType?: string;
  body?: string;
}

const KINDS: Kind[] = [
  {
    name: 'matrix 100×100×10×100 (10^7 combinations, 1 KB)',
    method: 'POST',
    path: '/jobs/matrix',
    body: JSON.stringify({ axes: { a: axis(100), b: axis(100), c: axis(10), d: axis(100) } }),
  },
  {
    name: 'matrix 10^5 combinations × 3,000 rules',
    method: 'POST',
    path: '/jobs/matrix',
    body: JSON.stringify({
      axes: { a: axis(100), b: axis(100), c: axis(10) },
      exclude: Array.from({ length: 3000 }, (_, i) => ({ a: i % 100, b: [1, 2] })),
    }),
  },
  {
    name: 'matrix with a 66 KB template × 100',
    method: 'POST',
    path: '/jobs/matrix',
    body: JSON.stringify({ template: { big: 'x'.repeat(66_000) }, axes: { a: axis(100) } }),
  },
  {
    name: 'matrix at its bounds: 10^5 combinations, 20 rules, 10,000 jobs kept',
    method: 'POST',
    path: '/jobs/matrix',
    body: JSON.stringify({
      axes: { a: axis(100), b: axis(100), c: axis(10) },
      exclude: Array.from({ length: 20 }, (_, i) => ({ c: (i % 9) + 1 })),
    }),
  },
  {
    name: 'batch with an item nested 100,000 deep',
    method: 'POST',
    path: '/jobs/batch',
    contentType: 'application/x-ndjson',
    body: `{"a":1}\n${deep(100_000)}\n`,
  },
  {
    name: 'batch of 10,000 items',
    method: 'POST',
    path: '/jobs/batch',
    contentType: 'application/x-ndjson',
    body: Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(200) })).join('\n'),
  },
  {
    name: 'one job at the largest payload',
    method: 'POST',
    path: '/jobs',
    body: JSON.stringify({ pad: 'x'.repeat(65_000) }),
  },
  { name: 'GET /jobs?type=rare&limit=500', method: 'GET', path: '/jobs?type=rare&limit=500' },
];

/** The manager's CPU seconds so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** /healthz latencies (ms), one request at a time, until `until` settles. */
async function pollHealth(base: string, until: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let done = false;
  void until.finally(() => {
    done = true;
  });
  while (!done) {
    const started = performance.now();
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
    } catch {
      // No answer within 10 s counts as 10 s.
    }
    latencies.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 20));
  }
  return latencies;
}

async function send(base: string, kind: Kind): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${base}${kind.path}`, {
    method: kind.method,
    headers: { 'Content-Type': kind.contentType ?? 'application/json' },
    ...(kind.body !== undefined ? { body: kind.body } : {}),
    signal: AbortSignal.timeout(120_000),
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - started };
}

const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return `p50 ${fmt(pct(sorted, 50), 1)}, max ${fmt(sorted[sorted.length - 1] ?? Number.NaN, 1)} ms`;
};

async function main(): Promise<void> {
  installBackends();
  const beanstalkd = await startBeanstalkd({});
  const mongo = await startMongoServer();
  const port = await freePort();
  const manager = spawnNode([cli, 'manager'], {
    BEANSTALK_PORT: String(beanstalkd.port),
    MONGO_URL: mongo.url,
    MONGO_DB: 'bench-hostile',
    LOG_LEVEL: 'warn',
    MANAGER_LISTEN_PORT: String(port),
    MANAGER_LISTEN_HOST: '127.0.0.1',
  });
  const pid = manager.pid as number;
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, 30_000, manager);
    const idle = await pollHealth(base, new Promise((r) => setTimeout(r, 3000)));
    const startRss = rssMb(pid);
    say(`manager idle: /healthz ${summary(idle)}; RSS ${fmt(startRss)} MB`);
    let peakRss = startRss;
    for (const kind of KINDS) {
      const cpuBefore = cpuSeconds(pid);
      const answers = Promise.all([send(base, kind), send(base, kind), send(base, kind)]);
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, rssMb(pid));
      }, 50);
      const [results, health] = await Promise.all([answers, pollHealth(base, answers)]);
      clearInterval(sampler);
      const cpu = (cpuSeconds(pid) - cpuBefore) / results.length;
      say(
        `${kind.name}: answers ${results.map((r) => r.status).join(', ')} in ${results
          .map((r) => fmt(r.ms))
          .join(', ')} ms; manager CPU ${fmt(cpu, 2)} s per request; /healthz meanwhile ${summary(
          health,
        )} (idle: ${summary(idle)}); RSS ${fmt(rssMb(pid))} MB`,
      );
    }
    // Let the accepted jobs' writes finish and the heap shrink, then compare.
    await pollHealth(base, new Promise((r) => setTimeout(r, 15_000)));
    say(
      `peak RSS ${fmt(peakRss)} MB; RSS 15 s after the last request ${fmt(rssMb(pid))} MB vs ${fmt(startRss)} MB at the start`,
    );
  } finally {
    await stop(manager);
    await mongo.stop();
    await beanstalkd.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
