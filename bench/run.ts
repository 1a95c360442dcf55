/**
 * `npm run bench [-- --quick]`: measures distributed-workers on this machine and prints each
 * figure beside a baseline measured in the same run. Starts its own beanstalkd (without a
 * binlog, with `-b` at its default 50 ms sync, and with `-b -f 0`; `--quick`: without only)
 * and its own FerretDB, and the built CLI as real processes (run `npm run build` first; the
 * npm script does). Not a test: it only reports (it does check that every job got its one
 * outcome before it reports a rate). Beside each figure: the CPU share each process used.
 *
 *   --only post,batch,e2e,pickup,get   run only these measures
 *   --cpu-prof DIR                     manager and workers write V8 CPU profiles to DIR
 *                                      (read them with `npx tsx bench/profile-top.ts FILE`)
 *   BENCH_WORKER_CONCURRENCY=N         worker slots per process (default: the worker's, 64)
 *   BENCH_NODE_OPTIONS=...             NODE_OPTIONS for the manager and workers
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { JackdClient } from 'jackd';
import { MongoClient } from 'mongodb';
import {
  freePort,
  installBackends,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../src/local/servers.js';
import { createQueueClient } from '../src/queue/index.js';
import { measureCpu, type Processes } from './cpu.js';

const require = createRequire(import.meta.url);
const Jackd = require('jackd') as typeof JackdClient;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'index.js');
const quick = process.argv.includes('--quick');
const SECONDS = quick ? 3 : 10;
const E2E_JOBS = quick ? 10_000 : 50_000;
const ORIGINAL_JOBS = quick ? 1_500 : 5_000;
const WORKERS = 2;
/** The worker's default; BENCH_WORKER_CONCURRENCY tries another. */
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 64);
/** The tube of the default job type, which the end-to-end jobs use. */
const E2E_TUBE = 'hash';
const BATCH_JOBS = quick ? 10_000 : 30_000;
/** Batch requests in flight at once: a client that sends the next batch while one is stored. */
const BATCH_IN_FLIGHT = 2;
/** `--only post,batch,e2e,pickup,get`: run only these measures (RSS is always reported). */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '').split(',') : undefined;
const runs = (phase: string) => only === undefined || only.includes(phase);

interface Row {
  mode: string;
  what: string;
  value: string;
  baseline: string;
  ratio: string;
  cpu: string;
}
const rows: Row[] = [];
const say = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** With `--cpu-prof DIR`, the manager and workers write V8 CPU profiles there when they stop. */
const profileAt = process.argv.indexOf('--cpu-prof');
const profileDir = profileAt >= 0 ? resolve(process.argv[profileAt + 1] ?? 'profiles') : undefined;

function spawnNode(args: string[], env: Record<string, string>, profile = false): ChildProcess {
  const profiling = profile && profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return spawn(process.execPath, [...profiling, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? '',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

function peakRssMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

async function cannon(url: string, method: 'GET' | 'POST', body?: string) {
  const result = await autocannon({
    url,
    method,
    connections: 32,
    duration: SECONDS,
    ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
  };
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

/** One POST over a kept-alive connection (fetch costs the sender more CPU per request). */
function postKeepAlive(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () =>
          res.statusCode === 202 ? resolve(text) : reject(new Error(`POST answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Posts NDJSON lines 1,000 per request, BATCH_IN_FLIGHT requests at a time. */
async function postBatches(url: string, lines: string[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: BATCH_IN_FLIGHT }, async () => {
      for (let i = next; i < lines.length; i = next) {
        next += 1000;
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-ndjson' },
          body: lines.slice(i, i + 1000).join('\n'),
        });
        if (res.status !== 202) throw new Error(`batch answered ${res.status}`);
        await res.arrayBuffer();
      }
    }),
  );
}

async function jackd(port: number): Promise<JackdClient> {
  const client = new Jackd();
  client.socket.on('error', () => undefined);
  await client.connect({ host: '127.0.0.1', port });
  return client;
}

/** Raw pipelined puts with `window` in flight on one connection. */
async function rawPuts(port: number, tube: string, bodies: string[], window: number): Promise<number> {
  const client = await jackd(port);
  await client.use(tube);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        await client.put(body, { priority: 1024, delay: 0, ttr: 60 });
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await client.quit();
  client.socket.destroy();
  return bodies.length / seconds;
}

/** Raw reserve + delete with `connections` connections until `count` jobs are gone. */
async function rawDrain(port: number, tube: string, count: number, connections: number): Promise<number> {
  let left = count;
  let deleted = 0;
  let lastDeleteAt = 0;
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = await jackd(port);
      await client.watch(tube);
      await client.ignore('default');
      return client;
    }),
  );
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (left > 0) {
        const job = await client.reserveWithTimeout(1).catch(() => null);
        if (!job) continue;
        left -= 1;
        await client.delete(job.id);
        deleted += 1;
        // Timed to the last delete: the other connections then wait out their reserve timeout.
        if (deleted === count) lastDeleteAt = performance.now();
      }
      client.socket.destroy();
    }),
  );
  return count / ((lastDeleteAt - t0) / 1000);
}

async function rawInsertMany(url: string, docs: Array<Record<string, unknown>>): Promise<number> {
  const client = new MongoClient(url);
  const collection = client.db('bench_raw').collection(`raw${Date.now()}`);
  const t0 = performance.now();
  for (let i = 0; i < docs.length; i += 1000)
    await collection.insertMany(docs.slice(i, i + 1000), { ordered: false });
  const rate = docs.length / ((performance.now() - t0) / 1000);
  await client.db('bench_raw').dropDatabase();
  await client.close();
  return rate;
}

/** The original system's loop without its sleep: reserve → md5 → insertOne → delete, 3 at once. */
async function originalLoop(port: number, mongoUrl: string, tube: string, count: number): Promise<number> {
  const client = new MongoClient(mongoUrl);
  const collection = client.db('bench_original').collection('results');
  let left = count;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      const bean = await jackd(port);
      await bean.watch(tube);
      await bean.ignore('default');
      while (left > 0) {
        const job = await bean.reserveWithTimeout(1).catch(() => null);
        if (!job) continue;
        left -= 1;
        const body = job.payload.toString();
        await collection.insertOne({ job: body, hash: createHash('md5').update(body).digest('hex') });
        await bean.delete(job.id);
      }
      bean.socket.destroy();
    }),
  );
  const rate = count / ((performance.now() - t0) / 1000);
  await client.db('bench_original').dropDatabase();
  await client.close();
  return rate;
}

async function anyResultId(url: string): Promise<string | undefined> {
  const client = new MongoClient(url);
  try {
    const doc = await client.db('bench').collection<{ _id: string }>('results').findOne({});
    return doc?._id;
  } finally {
    await client.close();
  }
}

async function countResults(url: string, db: string): Promise<number> {
  const client = new MongoClient(url);
  try {
    return await client.db(db).collection('results').countDocuments();
  } finally {
    await client.close();
  }
}

async function benchMode(mode: 'no binlog' | '-b (50 ms sync)' | '-b -f 0'): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dw-bench-'));
  const servers: LocalServer[] = [];
  const closers: Array<() => Promise<void>> = [];
  const children: ChildProcess[] = [];
  const add = (what: string, value: string, baseline = '', ratio = '', cpu = '') => {
    rows.push({ mode, what, value, baseline, ratio, cpu });
    say(`  ${what}: ${value}${baseline ? `  vs ${baseline}` : ''}${ratio ? `  (${ratio})` : ''}`);
    if (cpu) say(`    CPU: ${cpu}`);
  };
  const processes: Processes = { bench: process.pid };
  try {
    say(`\n== beanstalkd ${mode}`);
    const beanstalkd = await startBeanstalkd(
      mode === 'no binlog'
        ? {}
        : { binlogDir: join(dataDir, 'binlog'), fsyncMs: mode === '-b -f 0' ? 0 : 50 },
    );
    servers.push(beanstalkd);
    const mongo = await startMongoServer();
    servers.push(mongo);
    processes.beanstalkd = beanstalkd.process.pid;
    processes[mongo.name] = mongo.process.pid;
    const env = {
      BEANSTALK_PORT: String(beanstalkd.port),
      MONGO_URL: mongo.url,
      MONGO_DB: 'bench',
      LOG_LEVEL: 'warn',
      RECONCILE_INTERVAL_SECONDS: '0',
    };
    const port = await freePort();
    const manager = spawnNode(
      [cli, 'manager'],
      {
        ...env,
        MANAGER_LISTEN_PORT: String(port),
        MANAGER_LISTEN_HOST: '127.0.0.1',
      },
      true,
    );
    children.push(manager);
    processes.manager = manager.pid;
    await waitForPort(port, 15_000, manager);
    const base = `http://127.0.0.1:${port}`;
    const admin = createQueueClient({
      host: '127.0.0.1',
      port: beanstalkd.port,
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
      inspectors: 1,
    });
    closers.push(() => admin.close());
    let workers: ChildProcess[] = [];
    /** Starts the worker processes and waits until every reserve connection watches the tube. */
    const startWorkers = async (): Promise<ChildProcess[]> => {
      if (workers.length > 0) return workers;
      workers = Array.from({ length: WORKERS }, (_, i) =>
        spawnNode(
          [cli, 'worker'],
          { ...env, WORKER_NAME: `bench${i}`, WORKER_CONCURRENCY: String(WORKER_CONCURRENCY) },
          true,
        ),
      );
      children.push(...workers);
      workers.forEach((worker, i) => {
        processes[`worker${i}`] = worker.pid;
      });
      for (const deadline = Date.now() + 30_000; ; ) {
        const watching = await admin
          .statsTube(E2E_TUBE)
          .then((tube) => tube.currentWatching)
          .catch(() => 0);
        if (watching >= WORKERS * WORKER_CONCURRENCY) return workers;
        if (Date.now() > deadline) throw new Error('the workers did not connect within 30 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    let cpu = measureCpu(() => processes);
    let t0 = performance.now();
    const envelopes = Array.from({ length: Math.max(E2E_JOBS, BATCH_JOBS) }, (_, i) =>
      JSON.stringify({ id: `raw-${i}`, type: 'raw', maxAttempts: 3, payload: `{"n":${i}}` }),
    );
    let someId: string | undefined;

    if (runs('post')) {
      // 1. HTTP enqueue vs a bare Koa route.
      const barePort = await freePort();
      const bare = spawnNode([join(root, 'bench', 'bare-koa.mjs'), String(barePort)], {});
      children.push(bare);
      await waitForPort(barePort, 10_000, bare);
      const body = '{"example":"data"}';
      const bareRun = await cannon(`http://127.0.0.1:${barePort}/`, 'POST', body);
      cpu = measureCpu(() => processes);
      const postRun = await cannon(`${base}/jobs?type=benchhttp`, 'POST', body);
      const postCpu = cpu();
      await stop(bare);
      add(
        'POST /jobs req/s (p50/p99 ms)',
        `${fmt(postRun.rps)} (${postRun.p50}/${postRun.p99})${postRun.non2xx ? `, ${postRun.non2xx} non-2xx` : ''}`,
        `bare Koa ${fmt(bareRun.rps)} (${bareRun.p50}/${bareRun.p99})`,
        `${fmt(postRun.rps / bareRun.rps, 2)}×`,
        postCpu,
      );
    }

    if (runs('batch')) {
      // 2. Batch enqueue vs raw pipelined puts and raw insertMany of the same documents.
      const lines = Array.from({ length: BATCH_JOBS }, (_, i) =>
        JSON.stringify({ n: i, pad: 'x'.repeat(40) }),
      );
      cpu = measureCpu(() => processes);
      t0 = performance.now();
      await postBatches(`${base}/jobs/batch?type=benchbatch`, lines);
      const batchRate = lines.length / ((performance.now() - t0) / 1000);
      const batchCpu = cpu();
      const putRate = await rawPuts(
        beanstalkd.port,
        'rawputs',
        lines.map((payload, i) => JSON.stringify({ id: `raw-${i}`, type: 'raw', maxAttempts: 3, payload })),
        1000,
      );
      const insertRate = await rawInsertMany(
        mongo.url,
        lines.map((payload, i) => ({ _id: `raw-${i}`, type: 'raw', payload, createdAt: new Date() })),
      );
      const tighter = Math.min(putRate, insertRate);
      add(
        `POST /jobs/batch jobs/s (1,000 per request, ${BATCH_IN_FLIGHT} in flight)`,
        fmt(batchRate),
        `raw puts ${fmt(putRate)} (1,000 in flight), raw insertMany ${fmt(insertRate)}`,
        `${fmt(batchRate / tighter, 2)}× the tighter`,
        batchCpu,
      );
    }

    if (runs('e2e')) {
      // 3a. End to end: W worker processes connected and idle, then E2E_JOBS posted through
      // /jobs/batch (1,000 per request, BATCH_IN_FLIGHT at a time) while they drain; timed from the
      // first POST until beanstalkd holds no job (a worker deletes a job only after its
      // outcome is stored), then the outcomes counted.
      const drained = async (since: number) => {
        for (;;) {
          const tube = await admin.statsTube(E2E_TUBE);
          if (tube.currentJobsReady + tube.currentJobsReserved + tube.currentJobsDelayed === 0) return;
          if (performance.now() - since > 600_000) throw new Error('jobs still queued after 10 minutes');
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const checkOutcomes = async (before: number) => {
        const outcomes = (await countResults(mongo.url, 'bench')) - before;
        if (outcomes !== E2E_JOBS) throw new Error(`${outcomes} outcomes stored for ${E2E_JOBS} jobs`);
      };
      const e2eLines = Array.from({ length: E2E_JOBS }, (_, i) => JSON.stringify({ e2e: i }));
      await startWorkers();
      let before = await countResults(mongo.url, 'bench');
      cpu = measureCpu(() => processes);
      t0 = performance.now();
      await postBatches(`${base}/jobs/batch`, e2eLines);
      await drained(t0);
      const e2eRate = E2E_JOBS / ((performance.now() - t0) / 1000);
      const e2eCpu = cpu();
      await checkOutcomes(before);

      // 3b. Drain only: the same number of jobs posted while the tube is paused, then resumed.
      await admin.pauseTube(E2E_TUBE, 3600);
      await postBatches(
        `${base}/jobs/batch`,
        e2eLines.map((line) => line.replace('e2e', 'drain')),
      );
      before = await countResults(mongo.url, 'bench');
      cpu = measureCpu(() => processes);
      t0 = performance.now();
      await admin.pauseTube(E2E_TUBE, 0);
      await drained(t0);
      const drainOnlyRate = E2E_JOBS / ((performance.now() - t0) / 1000);
      const drainOnlyCpu = cpu();
      await checkOutcomes(before);

      // Ceilings: the transport (reserve+delete with the same connection count) and the store.
      const drainBodies = envelopes.slice(0, Math.min(envelopes.length, E2E_JOBS));
      await rawPuts(beanstalkd.port, 'rawdrain', drainBodies, 1000);
      const drainRate = await rawDrain(
        beanstalkd.port,
        'rawdrain',
        drainBodies.length,
        WORKERS * WORKER_CONCURRENCY,
      );
      const insertRate = await rawInsertMany(
        mongo.url,
        e2eLines.map((payload, i) => ({ _id: `e-${i}`, type: 'hash', payload, createdAt: new Date() })),
      );
      await rawPuts(beanstalkd.port, 'original', envelopes.slice(0, ORIGINAL_JOBS), 100);
      const originalRate = await originalLoop(beanstalkd.port, mongo.url, 'original', ORIGINAL_JOBS);
      const transport = `transport ${fmt(drainRate)} (reserve+delete, ${WORKERS * WORKER_CONCURRENCY} conns)`;
      const ceiling = Math.min(drainRate, insertRate / 2);
      add(
        `end to end jobs/s: ${fmt(E2E_JOBS)} posted in batches while ${WORKERS} workers × ${WORKER_CONCURRENCY} drain`,
        fmt(e2eRate),
        `${transport}, store ${fmt(insertRate / 2)} (insertMany ${fmt(insertRate)} docs/s ÷ 2 docs per job), original loop ${fmt(originalRate)}`,
        `${fmt(e2eRate / ceiling, 2)}× the tighter ceiling, ${fmt(e2eRate / originalRate, 1)}× the original`,
        e2eCpu,
      );
      const drainCeiling = Math.min(drainRate, insertRate);
      add(
        `drain only jobs/s: ${fmt(E2E_JOBS)} queued beforehand (job records already stored)`,
        fmt(drainOnlyRate),
        `${transport}, store ${fmt(insertRate)} (insertMany, 1 outcome per job)`,
        `${fmt(drainOnlyRate / drainCeiling, 2)}× the tighter ceiling, ${fmt(drainOnlyRate / originalRate, 1)}× the original`,
        drainOnlyCpu,
      );
    }

    if (runs('pickup')) {
      // Pickup latency at a steady 500 jobs/s on idle workers: POST sent → handler start.
      await startWorkers();
      const steadySeconds = quick ? 4 : 10;
      const sent = new Map<string, number>();
      const answered: number[] = [];
      cpu = measureCpu(() => processes);
      t0 = Date.now();
      let n = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (;;) {
            const i = n++;
            const due = t0 + (i * 1000) / 500;
            if (due > t0 + steadySeconds * 1000) return;
            const wait = due - Date.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            const at = Date.now();
            const { id } = JSON.parse(await postKeepAlive(`${base}/jobs`, `{"steady":${i}}`)) as {
              id: string;
            };
            sent.set(id, at);
            answered.push(Date.now() - at);
          }
        }),
      );
      const steadyCpu = cpu();
      const client = new MongoClient(mongo.url);
      const ids = [...sent.keys()];
      let started: Array<{ _id: string; startedAt: Date }> = [];
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        started = (await client
          .db('bench')
          .collection('results')
          .find({ _id: { $in: ids as never[] } }, { projection: { startedAt: 1 } })
          .toArray()) as never;
        if (started.length === ids.length) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      await client.close();
      someId = ids[Math.floor(ids.length / 2)];
      const pickups = started
        .map((r) => r.startedAt.getTime() - (sent.get(String(r._id)) ?? 0))
        .sort((a, b) => a - b);
      add(
        `pickup latency ms at 500 jobs/s (${fmt(ids.length)} jobs)`,
        `p50 ${pct(pickups, 50)}, p99 ${pct(pickups, 99)}`,
        `goal p50 < 3, p99 < 15; the POST itself answered in p50 ${pct(
          answered.sort((a, b) => a - b),
          50,
        )}, p99 ${pct(answered, 99)}`,
        '',
        steadyCpu,
      );
    }

    if (runs('get')) {
      // 4. GET /jobs/:id with the collection as it now is.
      someId ??= await anyResultId(mongo.url);
      const stored = await countResults(mongo.url, 'bench');
      cpu = measureCpu(() => processes);
      const getRun = await cannon(`${base}/jobs/${someId}`, 'GET');
      const getCpu = cpu();
      add(
        `GET /jobs/:id req/s (p99 ms), ${fmt(stored)} jobs stored`,
        `${fmt(getRun.rps)} (${getRun.p99})`,
        'FerretDB scans for each point read',
        '',
        getCpu,
      );
    }

    // 5. Peak RSS.
    add(
      'peak RSS MB: manager, workers',
      `${fmt(peakRssMb(manager.pid))}, ${workers.map((w) => fmt(peakRssMb(w.pid))).join(', ')}`,
      'goal < 150 each',
    );
  } finally {
    keepAlive.destroy();
    for (const close of closers) await close().catch(() => undefined);
    for (const child of children.reverse()) await stop(child);
    for (const server of servers.reverse()) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  installBackends();
  // The filesystem under the data dirs: SQLite and the binlog sync to it.
  const filesystem = execFileSync('df', ['--output=fstype,source', tmpdir()], { encoding: 'utf8' })
    .split('\n')[1]
    ?.trim()
    .replace(/\s+/, ' on ');
  say(
    `distributed-workers bench${quick ? ' (--quick)' : ''}: ${cpus().length} cores, ${cpus()[0]?.model ?? ''}, ${Math.round(totalmem() / 2 ** 30)} GB; MongoDB-wire server: ${process.env.PATH?.split(':').some((dir) => dir && existsSync(join(dir, 'mongod'))) ? 'mongod' : 'FerretDB 1.24.2 (SQLite)'}; data under ${tmpdir()} (${filesystem ?? 'filesystem unknown'})`,
  );
  const modes = quick ? (['no binlog'] as const) : (['no binlog', '-b (50 ms sync)', '-b -f 0'] as const);
  for (const mode of modes) await benchMode(mode);
  const header = ['beanstalkd', 'measure', 'value', 'baseline (same run)', 'ratio', 'CPU during the measure'];
  const table = rows.map((r) => [r.mode, r.what, r.value, r.baseline, r.ratio, r.cpu]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(
    `\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${table.map(line).join('\n')}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
