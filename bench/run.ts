/**
 * `npm run bench [-- --quick]`: measures distributed-workers on this machine and prints each
 * figure beside a baseline measured in the same run. Starts its own beanstalkd (without a
 * binlog, with `-b` at its default 50 ms sync, and with `-b -f 0`; `--quick`: without only)
 * and its own FerretDB, and the built CLI as real processes (run `npm run build` first; the
 * npm script does). Not a test: it only reports (it does check that every job got its one
 * outcome before it reports a rate). Beside each figure: the CPU share each process used.
 *
 *   --only post,batch,e2e,pickup,get,reads   run only these measures (get: GET /jobs/:id, a page
 *                                      of completed jobs and GET /stats under load, bench/read-rows.ts,
 *                                      after a measure that runs jobs; reads: bench/reads.ts, every read
 *                                      at 1,000, 100,000 and 1,000,000 jobs stored)
 *   --reads-sizes 1000,100000,...      the history sizes the reads are measured at
 *   --binlog none,sync,fsync           run only these beanstalkd modes (no binlog, -b, -b -f 0)
 *   --cpu-prof DIR                     manager and workers write V8 CPU profiles to DIR
 *                                      (read them with `npx tsx bench/profile-top.ts FILE`)
 *   --no-peer                          skip BullMQ: by default, in the first beanstalkd mode, each of
 *                                      post, batch, e2e, pickup and get is followed by BullMQ's version
 *                                      of it on its own redis-server (bench/beside-bullmq.ts), and the
 *                                      table ends with CPU ms per job and peak RSS of both systems
 *   --peer-fsync none|everysec|always  the peer's Redis: no persistence (default), or an append-only
 *                                      file synced every second (beside -b's 50 ms) or at every write
 *                                      (beside -b -f 0)
 *   --store-sync full|normal           FerretDB's SQLite synchronous (default full: the WAL synced at
 *                                      every commit; normal: at checkpoints only, as a store that
 *                                      survives a crash of FerretDB but not of the machine)
 *   BENCH_WORKER_CONCURRENCY=N         worker slots per process (default: the worker's, 64)
 *   BENCH_NODE_OPTIONS=...             NODE_OPTIONS for the manager and workers, after the V8 flags they
 *                                      ship with (src/local/node-flags.ts): a later flag overrides
 *   BENCH_MANAGER_NODE_OPTIONS=...     the same for the manager alone, after BENCH_NODE_OPTIONS
 *   BENCH_WORKER_NODE_OPTIONS=...      the same for the workers alone
 *   BENCH_NODE_ARGS=...                node flags for the manager and workers that NODE_OPTIONS refuses
 *                                      (e.g. --trace-gc), given on their command line
 *   BENCH_STDOUT_DIR=DIR               keep the manager's and workers' stdout (their logs, --trace-gc
 *                                      lines) in DIR/<role>-<ms>.log instead of dropping it
 *   BENCH_ACCEPT_HOLD_SECONDS=N        the manager's ACCEPT_HOLD_SECONDS (default: record first)
 * Nothing else of the bench's environment reaches the processes it starts: they get PATH, HOME,
 * NODE_OPTIONS and their own settings. A switch of a scratch build, read from process.env, goes
 * in a preload: BENCH_NODE_OPTIONS="--require FILE", FILE setting it.
 */
import './no-orphans.js';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  installBackends,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
  whichSync,
} from '../src/local/servers.js';
import { createQueueClient } from '../src/queue/index.js';
import { badArgs, benchArgs } from './args.js';
import { rawInsertMany, rawPuts } from './baselines.js';
import { BesideBullmq, captureEndToEnd, type OurFigure } from './beside-bullmq.js';
import {
  cannon,
  keepAlive,
  peakRssMb,
  pickupsOf,
  postBatches,
  postSteadily,
  spawnNode,
  stop,
  WARM_UP_SECONDS,
  warmUp,
} from './clients.js';
import { measureCpu, type Processes } from './cpu.js';
import { countCpu } from './cpu-per-job.js';
import { measureEndToEnd } from './end-to-end.js';
import { fmt, pct } from './format.js';
import { removeOnExit } from './no-orphans.js';
import { describeSplit, pickupSplit } from './pickup-split.js';
import { measureReadRows } from './read-rows.js';
import { measureReads } from './reads.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'index.js');
const { values: flags } = benchArgs(import.meta.url, {
  quick: { type: 'boolean' },
  only: { type: 'string' },
  'reads-sizes': { type: 'string' },
  binlog: { type: 'string' },
  'cpu-prof': { type: 'string' },
  'no-peer': { type: 'boolean' },
  'peer-fsync': { type: 'string' },
  'store-sync': { type: 'string' },
});
const quick = flags.quick === true;
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
const PHASES = ['post', 'batch', 'e2e', 'pickup', 'get', 'reads'];
const only = flags.only?.split(',');
const unknownPhase = only?.find((phase) => !PHASES.includes(phase));
if (unknownPhase !== undefined)
  badArgs(import.meta.url, `--only takes some of ${PHASES.join(',')}, not "${unknownPhase}"`);
const runs = (phase: string) => only === undefined || only.includes(phase);
const readSizes =
  flags['reads-sizes'] !== undefined
    ? flags['reads-sizes'].split(',').map(Number)
    : quick
      ? [1_000, 20_000]
      : [1_000, 100_000, 1_000_000];
if (readSizes.some((n, i) => !Number.isInteger(n) || n < 1 || n <= (readSizes[i - 1] ?? 0))) {
  badArgs(import.meta.url, '--reads-sizes takes growing whole numbers, e.g. 1000,100000,1000000');
}
/** `--binlog none,sync,fsync`: the beanstalkd modes to run (`--quick`: none only). */
const ALL_MODES = { none: 'no binlog', sync: '-b (50 ms sync)', fsync: '-b -f 0' } as const;
const pickedModes = flags.binlog?.split(',') ?? (quick ? ['none'] : undefined);
const unknownMode = pickedModes?.find((name) => !(name in ALL_MODES));
if (unknownMode !== undefined)
  badArgs(import.meta.url, `--binlog takes none, sync or fsync, not "${unknownMode}"`);
const modes = pickedModes
  ? pickedModes.map((name) => ALL_MODES[name as keyof typeof ALL_MODES])
  : Object.values(ALL_MODES);
let firstMode: string | undefined;
const storeSync = ((value) => {
  if (value !== 'full' && value !== 'normal')
    return badArgs(import.meta.url, '--store-sync takes full or normal');
  return value;
})(flags['store-sync'] ?? 'full');
/** `--no-peer`: no BullMQ rows. */
const peerWanted = flags['no-peer'] !== true;
/** `--peer-fsync everysec|always`: the peer's Redis keeps an append-only file, synced so. */
const peerFsync = ((value) => {
  if (value !== 'none' && value !== 'everysec' && value !== 'always') {
    return badArgs(import.meta.url, '--peer-fsync takes none, everysec or always');
  }
  return value;
})(flags['peer-fsync'] ?? 'none');
/** BullMQ's workers: as many processes as ours, with the concurrency the comparison asks for. */
const PEER_CONCURRENCY = 50;

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

/** With `--cpu-prof DIR`, the manager and workers write V8 CPU profiles there when they stop. */
const profileDir = flags['cpu-prof'] !== undefined ? resolve(flags['cpu-prof']) : undefined;

async function benchMode(mode: 'no binlog' | '-b (50 ms sync)' | '-b -f 0'): Promise<void> {
  const dataDir = removeOnExit(mkdtempSync(join(tmpdir(), 'dw-bench-')));
  const servers: LocalServer[] = [];
  const closers: Array<() => Promise<void>> = [];
  const children: ChildProcess[] = [];
  const add = (what: string, value: string, baseline = '', ratio = '', cpu = '') => {
    rows.push({ mode, what, value, baseline, ratio, cpu });
    say(`  ${what}: ${value}${baseline ? `  vs ${baseline}` : ''}${ratio ? `  (${ratio})` : ''}`);
    if (cpu) say(`    CPU: ${cpu}`);
  };
  const processes: Processes = { bench: process.pid };
  let peer: BesideBullmq | undefined;
  try {
    say(`\n== beanstalkd ${mode}`);
    const beanstalkd = await startBeanstalkd(
      mode === 'no binlog'
        ? {}
        : { binlogDir: join(dataDir, 'binlog'), fsyncMs: mode === '-b -f 0' ? 0 : 50 },
    );
    servers.push(beanstalkd);
    const mongo = await startMongoServer({ sqliteSync: storeSync });
    servers.push(mongo);
    processes.beanstalkd = beanstalkd.process.pid;
    processes[mongo.name] = mongo.process.pid;
    const env = {
      BEANSTALK_PORT: String(beanstalkd.port),
      MONGO_URL: mongo.url,
      MONGO_DB: 'bench',
      LOG_LEVEL: 'warn',
      RECONCILE_INTERVAL_SECONDS: '0',
      ...(process.env.BENCH_ACCEPT_HOLD_SECONDS
        ? { ACCEPT_HOLD_SECONDS: process.env.BENCH_ACCEPT_HOLD_SECONDS }
        : {}),
    };
    const port = await freePort();
    const manager = spawnNode(
      [cli, 'manager'],
      {
        ...env,
        MANAGER_LISTEN_PORT: String(port),
        MANAGER_LISTEN_HOST: '127.0.0.1',
        // The enqueue measures post to types no worker serves, so their jobs stay queued.
        JOB_TYPES: 'hash,benchhttp,benchbatch',
      },
      profileDir,
    );
    children.push(manager);
    processes.manager = manager.pid;
    await waitForPort(port, 15_000, manager);
    const base = `http://127.0.0.1:${port}`;
    if (peerWanted && mode === firstMode && ['post', 'batch', 'e2e', 'pickup', 'get'].some(runs)) {
      peer = await BesideBullmq.start(
        root,
        WORKERS,
        PEER_CONCURRENCY,
        peerFsync,
        (what, value, baseline, ratio, cpu) => {
          rows.push({ mode: peer?.label ?? 'BullMQ', what, value, baseline, ratio, cpu });
          say(`  BullMQ ${what}: ${value}  vs ${baseline}  (${ratio})`);
          if (cpu) say(`    CPU: ${cpu}`);
        },
      );
    }
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
          profileDir,
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

    let cpu: () => string;
    let t0: number;

    if (runs('post')) {
      // 1. HTTP enqueue vs a bare Koa route.
      const barePort = await freePort();
      const bare = spawnNode([join(root, 'bench', 'bare-koa.mjs'), String(barePort)], {});
      children.push(bare);
      await waitForPort(barePort, 10_000, bare);
      const body = '{"example":"data"}';
      await cannon(`http://127.0.0.1:${barePort}/`, 'POST', WARM_UP_SECONDS, body);
      const bareRun = await cannon(`http://127.0.0.1:${barePort}/`, 'POST', SECONDS, body);
      await cannon(`${base}/jobs?type=benchhttp`, 'POST', WARM_UP_SECONDS, body);
      cpu = measureCpu(() => processes);
      const postUsed = countCpu(() => processes);
      const postRun = await cannon(`${base}/jobs?type=benchhttp`, 'POST', SECONDS, body);
      const postCpu = cpu();
      const postFigure: OurFigure = {
        rate: postRun.rps,
        text: `${fmt(postRun.rps)} (${postRun.p50}/${postRun.p99})`,
        used: postUsed(),
        jobs: postRun.rps * SECONDS,
      };
      await stop(bare);
      add(
        'POST /jobs req/s (p50/p99 ms)',
        `${fmt(postRun.rps)} (${postRun.p50}/${postRun.p99})${postRun.non2xx ? `, ${postRun.non2xx} non-2xx` : ''}`,
        `bare Koa ${fmt(bareRun.rps)} (${bareRun.p50}/${bareRun.p99})`,
        `${fmt(postRun.rps / bareRun.rps, 2)}×`,
        postCpu,
      );
      await peer?.post(SECONDS, body, postFigure);
    }

    if (runs('batch')) {
      // 2. Batch enqueue vs raw pipelined puts and raw insertMany of the same documents.
      const lines = Array.from({ length: BATCH_JOBS }, (_, i) =>
        JSON.stringify({ n: i, pad: 'x'.repeat(40) }),
      );
      const warmLines = lines.slice(0, 2000);
      await warmUp(WARM_UP_SECONDS, () =>
        postBatches(`${base}/jobs/batch?type=benchbatch`, warmLines, BATCH_IN_FLIGHT),
      );
      cpu = measureCpu(() => processes);
      const batchUsed = countCpu(() => processes);
      t0 = performance.now();
      await postBatches(`${base}/jobs/batch?type=benchbatch`, lines, BATCH_IN_FLIGHT);
      const batchRate = lines.length / ((performance.now() - t0) / 1000);
      const batchCpu = cpu();
      const batchFigure: OurFigure = {
        rate: batchRate,
        text: fmt(batchRate),
        used: batchUsed(),
        jobs: lines.length,
      };
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
      await peer?.batch(lines, BATCH_IN_FLIGHT, batchFigure);
    }

    if (runs('e2e')) {
      const ours = captureEndToEnd(() => processes, E2E_JOBS, add);
      await measureEndToEnd({
        base,
        mongoUrl: mongo.url,
        beanstalkPort: beanstalkd.port,
        admin,
        tube: E2E_TUBE,
        jobs: E2E_JOBS,
        originalJobs: ORIGINAL_JOBS,
        connections: WORKERS * WORKER_CONCURRENCY,
        workers: `${WORKERS} workers × ${WORKER_CONCURRENCY}`,
        batchInFlight: BATCH_IN_FLIGHT,
        startWorkers,
        measure: ours.measure,
        add: ours.add,
      });
      const [e2e, drain] = ours.figures;
      if (e2e && drain) await peer?.endToEnd(E2E_JOBS, BATCH_IN_FLIGHT, { e2e, drain });
    }

    if (runs('pickup')) {
      // Pickup latency at a steady 500 jobs/s on idle workers: POST sent → handler start.
      await startWorkers();
      const steadySeconds = quick ? 4 : 10;
      const warm = await postSteadily(`${base}/jobs`, 500, WARM_UP_SECONDS);
      // As the peer's warm-up does: the measure starts once every warm-up job has started.
      await pickupsOf(mongo.url, 'bench', warm.sent);
      cpu = measureCpu(() => processes);
      const { sent, answered } = await postSteadily(`${base}/jobs`, 500, steadySeconds);
      const steadyCpu = cpu();
      const ids = [...sent.keys()];
      const pickups = await pickupsOf(mongo.url, 'bench', sent);
      const split = describeSplit(await pickupSplit(mongo.url, 'bench', sent));
      add(
        `pickup latency ms at 500 jobs/s (${fmt(ids.length)} jobs)`,
        `p50 ${pct(pickups, 50)}, p99 ${pct(pickups, 99)}`,
        `goal p50 < 3, p99 < 15; the POST itself answered in p50 ${pct(answered, 50)}, p99 ${pct(answered, 99)}; ${split}`,
        '',
        steadyCpu,
      );
      await peer?.pickup(steadySeconds, 500, {
        p50: pct(pickups, 50),
        p99: pct(pickups, 99),
        text: `p50 ${pct(pickups, 50)}, p99 ${pct(pickups, 99)} (POST sent → handler start)`,
      });
    }

    if (runs('get')) {
      // 4. Reads with the collections as they now are: a job by id, a page, the counts.
      await measureReadRows({ base, mongo, processes, add, peer, seconds: SECONDS });
    }

    if (runs('reads') && mode === firstMode) {
      say('  reads at growing history (bench/reads.ts): its own manager, workers, database and tubes');
      const readChildren: ChildProcess[] = [];
      try {
        await measureReads({
          mongoUrl: mongo.url,
          beanstalkPort: beanstalkd.port,
          sizes: readSizes,
          seconds: SECONDS,
          spawn: (args, extra, name) => {
            const child = spawnNode([cli, ...args], extra, profileDir);
            readChildren.push(child);
            processes[`reads-${name}`] = child.pid;
            return child;
          },
          measure: () => measureCpu(() => processes),
          add,
          say,
        });
      } finally {
        for (const child of readChildren.reverse()) await stop(child);
      }
    }

    // 5. Peak RSS.
    add(
      'peak RSS MB: manager, workers',
      `${fmt(peakRssMb(manager.pid))}, ${workers.map((w) => fmt(peakRssMb(w.pid))).join(', ')}`,
      'goal < 150 each',
    );
    peer?.finish({
      manager: peakRssMb(manager.pid),
      ...Object.fromEntries(workers.map((w, i) => [`worker${i}`, peakRssMb(w.pid)])),
      beanstalkd: peakRssMb(beanstalkd.process.pid),
      [mongo.name]: peakRssMb(mongo.process.pid),
    });
  } finally {
    await peer?.stop().catch(() => undefined);
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
    `distributed-workers bench${quick ? ' (--quick)' : ''}: ${cpus().length} cores, ${cpus()[0]?.model ?? ''}, ${Math.round(totalmem() / 2 ** 30)} GB; MongoDB-wire server: ${whichSync('mongod') ? 'mongod' : `FerretDB 1.24.2 (SQLite, synchronous ${storeSync})`}; data under ${tmpdir()} (${filesystem ?? 'filesystem unknown'}); accept order: ${process.env.BENCH_ACCEPT_HOLD_SECONDS ? `hold ${process.env.BENCH_ACCEPT_HOLD_SECONDS} s, record, kick` : 'record, then put'}`,
  );
  firstMode = modes[0];
  for (const mode of modes) await benchMode(mode);
  const header = [
    'beanstalkd / peer',
    'measure',
    'value',
    'baseline (same run)',
    'ratio',
    'CPU during the measure',
  ];
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
