/**
 * `npm run bench:maintenance [-- --jobs N]`: how fast the maintenance pass settles the job log
 * and removes jobs past retention, when finished jobs arrive faster than one pass a interval
 * takes (docs/capacity.md, "What breaks first"). N finished jobs (default 20,000; 99 %
 * completed, 1 % failed) are loaded through the store's batch path, then the background passes
 * run as a manager runs them (RECONCILE_INTERVAL_SECONDS' default of 10 s, 2,000 jobs a pass,
 * retention of 1 ms so every settled completed job goes at once) until the whole log is
 * settled and every completed job removed. Twice on fresh databases of the same server,
 * rotating: passes that follow each other while they are behind after a quarter of the last
 * one's time (as built), after a fixed second (before 2026-12-06), and the baseline, one pass
 * per interval whatever is left (before 2026-12-01).
 */
import './no-orphans.js';
import { pino } from 'pino';
import { startBeanstalkd, startMongoServer } from '../src/local/servers.js';
import { startBackgroundPasses } from '../src/manager/background/background-passes.js';
import { createQueueClient, queueSetOf } from '../src/queue/index.js';
import { createStore } from '../src/store/index.js';
import { benchArgs, wholeNumber } from './args.js';
import { cpuSeconds } from './cpu.js';
import { fmt } from './format.js';
import { loadHistory } from './reads.js';

const INTERVAL_MS = 10_000;
const { values: flags } = benchArgs(import.meta.url, { jobs: { type: 'string' } });
const jobs = wholeNumber(import.meta.url, 'jobs', flags.jobs, 20_000);
const say = (line: string) => process.stderr.write(`${line}\n`);

const beanstalkd = await startBeanstalkd();
const mongo = await startMongoServer();
const log = pino({ level: 'silent' });

/** One variant on a fresh database: seconds until settled, until emptied, and FerretDB's CPU. */
async function measure(label: string, catchUpGapMs: number | undefined, round: number) {
  const dbName = `bench_maintenance_${round}_${catchUpGapMs ?? 'built'}`;
  const store = createStore({ url: mongo.url, dbName, timeoutMs: 10_000, insertRetryMs: 10_000 });
  const queue = createQueueClient({
    host: '127.0.0.1',
    port: beanstalkd.port,
    connectTimeoutMs: 5000,
    commandTimeoutMs: 5000,
  });
  const queues = queueSetOf({ clients: [queue], goneAfterMs: 60_000 });
  try {
    await loadHistory(store, jobs, () => undefined);
    const head = await store.log.logHead(await store.log.readLogMeta());
    const completed = jobs - Math.floor(jobs / 100);
    const cpu0 = cpuSeconds(mongo.process.pid);
    const t0 = performance.now();
    const passes = startBackgroundPasses({
      queue: queues,
      store,
      log,
      tubePrefix: `bm${round}_`,
      graceMs: 0,
      holder: `bench-${label}`,
      intervalMs: INTERVAL_MS,
      retentionMs: 1,
      ...(catchUpGapMs !== undefined ? { catchUpGapMs } : {}),
    });
    let settledAt: number | undefined;
    try {
      for (;;) {
        const meta = await store.log.readLogMeta();
        if (settledAt === undefined && meta.settledThrough >= head) settledAt = performance.now();
        if (settledAt !== undefined && meta.retainedThrough >= head) break;
        if (performance.now() - t0 > 30 * 60_000) throw new Error(`${label}: not done in 30 minutes`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      await passes.stop();
    }
    const seconds = (performance.now() - t0) / 1000;
    const settleSeconds = ((settledAt ?? performance.now()) - t0) / 1000;
    const ferretCpu = cpuSeconds(mongo.process.pid) - cpu0;
    // The first pass waits one interval after the start in both variants: counted, as a manager's.
    // The passes' own rate: from the first pass, one interval after the start.
    const afterFirst = jobs / Math.max(0.001, settleSeconds - INTERVAL_MS / 1000);
    say(
      `  ${label}: ${fmt(jobs)} jobs settled in ${settleSeconds.toFixed(1)} s (${fmt(jobs / settleSeconds)} jobs/s; ` +
        `${fmt(afterFirst)} from the first pass), ` +
        `${fmt(completed)} removed by ${seconds.toFixed(1)} s (${fmt(completed / seconds)} jobs/s); ` +
        `store CPU ${Math.round((100 * ferretCpu) / seconds)} % of a core meanwhile`,
    );
    return { settle: jobs / settleSeconds, remove: completed / seconds, afterFirst };
  } finally {
    await queues.close();
    await store.close();
  }
}

try {
  say(
    `maintenance passes over ${fmt(jobs)} finished jobs (interval ${INTERVAL_MS / 1000} s, 2,000 jobs a pass)`,
  );
  const built: number[] = [];
  const second: number[] = [];
  const baseline: number[] = [];
  for (let round = 1; round <= 2; round += 1) {
    built.push((await measure('catching up (built)', undefined, round)).afterFirst);
    second.push((await measure('catching up, a second between passes (before)', 1000, round)).afterFirst);
    baseline.push((await measure('one pass per interval (baseline)', INTERVAL_MS, round)).afterFirst);
  }
  const best = (list: number[]) => Math.max(...list);
  say(
    `settle rate from the first pass, best of 2: ${fmt(best(built))} jobs/s vs ${fmt(best(second))} jobs/s a second between passes ` +
      `(${(best(built) / best(second)).toFixed(2)}×) and ${fmt(best(baseline))} jobs/s one pass per interval ` +
      `(${(best(built) / best(baseline)).toFixed(1)}×)`,
  );
} finally {
  await beanstalkd.stop();
  await mongo.stop();
}
