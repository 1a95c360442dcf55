/**
 * `npm run bench:steady`: the POST's answer and the pickup (POST sent → handler start) at
 * several steady rates, with the CPU share of each process at each rate and its CPU ms per job —
 * where the bench's pickup row (500 jobs/s) comes from. A built manager and 2 workers (64 slots
 * each) on their own beanstalkd and FerretDB; 16 clients post `{"steady":i}` evenly spaced for
 * `--seconds` (4) at each of `--rates` (20,100,250,500; 0 measures the processes idle for the
 * same time). Each rate's pickup is split into its parts (bench/pickup-split.ts): sent → record
 * made, → put answered, → handler start. `--store-sync normal` as in bench/run.ts. Not a test:
 * it prints figures.
 */
import './no-orphans.js';
import type { ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  installBackends,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../src/local/servers.js';
import { badArgs, benchArgs } from './args.js';
import { pickupsOf, postSteadily, spawnNode, stop } from './clients.js';
import { measureCpu } from './cpu.js';
import { countCpu, msPerJob } from './cpu-per-job.js';
import { pct } from './format.js';
import { describeSplit, pickupSplit } from './pickup-split.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'index.js');
const { values: flags } = benchArgs(import.meta.url, {
  rates: { type: 'string' },
  seconds: { type: 'string' },
  'store-sync': { type: 'string' },
});
const rates = (flags.rates ?? '20,100,250,500').split(',').map(Number);
const seconds = Number(flags.seconds ?? 4);
const storeSync = flags['store-sync'] ?? 'full';
if (rates.some((rate) => !Number.isInteger(rate) || rate < 0) || !(seconds > 0)) {
  badArgs(import.meta.url, '--rates takes whole numbers (0: idle), --seconds a positive number');
}
if (storeSync !== 'full' && storeSync !== 'normal')
  badArgs(import.meta.url, '--store-sync takes full or normal');

installBackends();
const servers: LocalServer[] = [];
const children: ChildProcess[] = [];
try {
  const beanstalkd = await startBeanstalkd({});
  servers.push(beanstalkd);
  const mongo = await startMongoServer({ sqliteSync: storeSync });
  servers.push(mongo);
  const env = {
    BEANSTALK_PORT: String(beanstalkd.port),
    MONGO_URL: mongo.url,
    MONGO_DB: 'steady',
    LOG_LEVEL: 'warn',
    RECONCILE_INTERVAL_SECONDS: '0',
  };
  const port = await freePort();
  const manager = spawnNode([cli, 'manager'], {
    ...env,
    MANAGER_LISTEN_PORT: String(port),
    MANAGER_LISTEN_HOST: '127.0.0.1',
  });
  children.push(manager);
  await waitForPort(port, 15_000, manager);
  const workers = [0, 1].map((i) => spawnNode([cli, 'worker'], { ...env, WORKER_NAME: `steady${i}` }));
  children.push(...workers);
  const processes = {
    beanstalkd: beanstalkd.process.pid,
    [mongo.name]: mongo.process.pid,
    manager: manager.pid,
    worker0: workers[0]?.pid,
    worker1: workers[1]?.pid,
  };
  // Unmeasured: a second of jobs, until every one has run (the workers are up and warm).
  const warmUp = await postSteadily(`http://127.0.0.1:${port}/jobs`, 50, 1);
  await pickupsOf(mongo.url, 'steady', warmUp.sent);
  for (const rate of rates) {
    const cpu = measureCpu(() => processes);
    const perJob = countCpu(() => processes);
    if (rate === 0) {
      await new Promise((r) => setTimeout(r, seconds * 1000));
      process.stdout.write(`idle ${seconds} s: CPU ${cpu()}\n`);
      continue;
    }
    const { sent, answered } = await postSteadily(`http://127.0.0.1:${port}/jobs`, rate, seconds);
    const used = cpu();
    const usedPerJob = msPerJob(perJob(), sent.size);
    const pickups = await pickupsOf(mongo.url, 'steady', sent);
    const split = describeSplit(await pickupSplit(mongo.url, 'steady', sent));
    process.stdout.write(
      `${rate} jobs/s (${sent.size} jobs): POST answered p50 ${pct(answered, 50)}, p99 ${pct(answered, 99)} ms; pickup p50 ${pct(pickups, 50)}, p99 ${pct(pickups, 99)} ms (${split}); CPU ${used}; CPU ms per job ${usedPerJob}\n`,
    );
  }
} finally {
  for (const child of children.reverse()) await stop(child);
  for (const server of servers.reverse()) await server.stop();
}
