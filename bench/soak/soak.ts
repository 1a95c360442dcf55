/**
 * `npm run soak`: a chaos soak. Real processes (beanstalkd with its binlog, FerretDB, 2
 * managers, 3 workers behind TCP proxies) under a steady load at about half of the end-to-end
 * capacity measured at the start, while a fault schedule drawn from a printed seed kills,
 * stops, pauses and cuts them. An invariant checker runs every minute and at the end
 * (checker.ts); the run prints a summary table, writes it with a throughput plot (PNG) to
 * --out, and exits 1 when any invariant failed. Not part of `npm test`.
 *
 *   npm run soak                       # 30 minutes
 *   npm run soak -- --quick            # 3 minutes (CI)
 *   npm run soak -- --minutes 10 --seed 12345 --rate 40
 *
 * Flags: --minutes N (load phase; default 30), --quick (3), --seed S (replays a schedule),
 * --rate R (jobs/s instead of half the calibration), --managers N (2), --workers N (3),
 * --ttr S (5), --recovery-bound S (30), --out DIR (soak-report/), --inject lose|wrong-hash
 * (a self-test of the checker: spoil one outcome before the final check; the run must fail).
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { badArgs, benchArgs } from '../args.js';
import { Checker, type FaultRecord, type Verdict } from './checker.js';
import { Cluster } from './cluster.js';
import { explainJobs } from './forensics.js';
import { Ledger, Load } from './load.js';
import { plotThroughput } from './plot.js';
import { summary } from './report.js';
import { faultPlan, type PlannedFault } from './schedule.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const say = (line: string) => process.stdout.write(`${line}\n`);
const hold = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { values: flags } = benchArgs(import.meta.url, {
  quick: { type: 'boolean' },
  minutes: { type: 'string' },
  seed: { type: 'string' },
  rate: { type: 'string' },
  managers: { type: 'string' },
  workers: { type: 'string' },
  ttr: { type: 'string' },
  'recovery-bound': { type: 'string' },
  out: { type: 'string' },
  inject: { type: 'string' },
});
const flag = (name: keyof typeof flags): string | undefined => {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
};
function numberFlag(name: keyof typeof flags, fallback: number): number {
  const value = flag(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    return badArgs(import.meta.url, `--${name} must be a positive number, not "${value}"`);
  }
  return n;
}

const quick = flags.quick === true;
const minutes = numberFlag('minutes', quick ? 3 : 30);
const seed = Math.floor(numberFlag('seed', randomInt(1, 2 ** 31)));
const managers = Math.floor(numberFlag('managers', 2));
const workers = Math.floor(numberFlag('workers', 3));
const ttrSeconds = Math.floor(numberFlag('ttr', 5));
const recoveryBoundMs = numberFlag('recovery-bound', 30) * 1000;
const outDir = resolve(flag('out') ?? join(root, 'soak-report'));
const inject = flag('inject');
const fixedRate = flag('rate') === undefined ? undefined : numberFlag('rate', 1);
if (inject !== undefined && inject !== 'lose' && inject !== 'wrong-hash')
  badArgs(import.meta.url, '--inject takes lose or wrong-hash');
const runMs = minutes * 60_000;
/** RSS: the highest of a process's first 5 minutes (a third of a shorter run) is its level. */
const baselineWindowMs = Math.min(5 * 60_000, runMs / 3);

async function readyEverywhere(cluster: Cluster): Promise<boolean> {
  const answers = await Promise.all(
    cluster.managerPorts.map((_, slot) =>
      fetch(`${cluster.managerUrl(slot)}/readyz`, { signal: AbortSignal.timeout(2000) })
        .then(async (res) => {
          await res.body?.cancel();
          return res.status === 200;
        })
        .catch(() => false),
    ),
  );
  return answers.every(Boolean);
}

/** Undoes a fault's restart step until it works (a port briefly held, a slow start). */
async function retried(what: string, step: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await step();
      return;
    } catch (error: unknown) {
      if (attempt >= 5) throw error;
      say(
        `  ${what} failed (attempt ${attempt}): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      );
      await hold(500 * attempt);
    }
  }
}

async function inflict(cluster: Cluster, fault: PlannedFault): Promise<FaultRecord> {
  const { kind, target, holdMs } = fault;
  const startedAt = Date.now();
  switch (kind) {
    case 'worker-kill':
      await cluster.kill('worker', target);
      await hold(holdMs);
      cluster.startWorker(target);
      break;
    case 'worker-stop':
      cluster.signal('worker', target, 'SIGSTOP');
      await hold(holdMs);
      cluster.signal('worker', target, 'SIGCONT');
      break;
    case 'worker-cut':
      cluster.cutWorker(target);
      break;
    case 'manager-kill':
      await cluster.kill('manager', target);
      await hold(holdMs);
      await retried('manager restart', () => cluster.startManager(target));
      break;
    case 'beanstalkd-kill':
      await cluster.killBeanstalkd();
      await hold(holdMs);
      await retried('beanstalkd restart', () => cluster.restartBeanstalkd());
      break;
    case 'store-kill':
      await cluster.killStore();
      await hold(holdMs);
      await retried('store restart', () => cluster.restartStore());
      break;
    case 'store-pause':
      cluster.signalStore('SIGSTOP');
      await hold(holdMs);
      cluster.signalStore('SIGCONT');
      break;
  }
  const restoredAt = Date.now();
  let recoveryMs: number | undefined;
  while (Date.now() - restoredAt < recoveryBoundMs) {
    if (await readyEverywhere(cluster)) {
      recoveryMs = Date.now() - restoredAt;
      break;
    }
    await hold(100);
  }
  return { kind, target, holdMs, startedAt, restoredAt, ...(recoveryMs !== undefined ? { recoveryMs } : {}) };
}

function verdictLine(v: Verdict, t0: number): string {
  return (
    `[${((v.at - t0) / 60_000).toFixed(1)} min] check: ${v.acked} acknowledged, ${v.outcomes} outcomes, ` +
    `${v.missing} without one yet (${v.overdue} overdue), duplicated ${v.duplicated + v.storedTwice}, ran twice with no fault ${v.ranTwiceUnexplained}, ` +
    `wrong ${v.wrong}, bad strays ${v.straysBad}, 404s ${v.notFound}, violations ${v.violations.length} (scan ${v.scanMs} ms)`
  );
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  say(`chaos soak: seed ${seed} (replay with --seed ${seed}), ${minutes} min of load and faults`);
  say(
    `  ${managers} managers, ${workers} workers (each behind a TCP proxy), TTR ${ttrSeconds} s, readyz bound ${recoveryBoundMs / 1000} s`,
  );
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: npm run build');
  if (!process.env.MONGO_URL)
    execFileSync('bash', [join(root, 'scripts', 'install-backends.sh')], { stdio: 'inherit' });

  const cluster = new Cluster({ managers, workers, ttrSeconds });
  const emergency = () => {
    for (const pid of cluster.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  process.once('exit', emergency);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      emergency();
      rmSync(cluster.dataDir, { recursive: true, force: true });
      process.exit(130);
    });

  await cluster.start();
  const deadline = Date.now() + 60_000;
  while (!(await readyEverywhere(cluster))) {
    if (Date.now() > deadline) throw new Error('the managers never became ready');
    await hold(200);
  }
  const client = new MongoClient(cluster.storeUrl, { serverSelectionTimeoutMS: 10_000 });
  const ledger = new Ledger(Date.now());
  const load = new Load(cluster, ledger, seed);
  const faults: FaultRecord[] = [];
  const checker = new Checker(cluster, ledger, faults, client, {
    overdueMs: 180_000,
    baselineWindowMs,
  });
  const rssTimer = setInterval(() => cluster.sampleRss(), 5000);
  cluster.sampleRss();
  let checks = 0;
  let violationsSeen = 0;
  try {
    let rate = fixedRate;
    let rateFrom = 'from --rate';
    if (rate === undefined) {
      const calibration = await load.calibrate(quick ? 10 : 20, () => checker.countOutcomes());
      rate = Math.max(2, calibration.endToEndPerSecond / 2);
      rateFrom = `half of ${calibration.endToEndPerSecond.toFixed(0)} measured end to end (${calibration.jobs} single POSTs; accepted at ${calibration.acceptPerSecond.toFixed(0)}/s)`;
    }
    say(`load: ${rate.toFixed(1)} jobs/s, ${rateFrom}`);
    const loadStart = Date.now();
    const endAt = loadStart + runMs;
    load.start(rate);

    let checking = false;
    const checkTimer = setInterval(() => {
      if (checking) return;
      checking = true;
      void checker
        .check(false)
        .then((v) => {
          checks += 1;
          violationsSeen = Math.max(violationsSeen, v.violations.length);
          say(verdictLine(v, ledger.t0));
          for (const line of v.violations.slice(0, 10)) say(`  VIOLATION ${line}`);
        })
        .catch((error: unknown) => say(`  check skipped: ${String(error).split('\n')[0]}`))
        .finally(() => {
          checking = false;
        });
    }, 60_000);

    const plan = faultPlan(seed, {
      workers,
      managers,
      ttrSeconds,
      gapMs: quick ? [4000, 9000] : [15_000, 40_000],
    });
    await hold(quick ? 8000 : 30_000);
    for (const planned of plan) {
      if (Date.now() + planned.holdMs + 15_000 > endAt) break;
      say(
        `[${((Date.now() - ledger.t0) / 60_000).toFixed(1)} min] fault: ${planned.kind} ${planned.target} for ${(planned.holdMs / 1000).toFixed(1)} s`,
      );
      const record = await inflict(cluster, planned);
      faults.push(record);
      say(
        `  recovered: /readyz 200 on every manager ${record.recoveryMs === undefined ? `NOT within ${recoveryBoundMs / 1000} s` : `${(record.recoveryMs / 1000).toFixed(1)} s after`}`,
      );
      await hold(Math.min(planned.gapMs, Math.max(0, endAt - Date.now())));
      if (Date.now() >= endAt) break;
    }
    if (Date.now() < endAt) await hold(endAt - Date.now());
    say(`[${((Date.now() - ledger.t0) / 60_000).toFixed(1)} min] load stops; draining`);
    await load.stop();
    clearInterval(checkTimer);
    while (checking) await hold(100);

    // The slowest recovery by design is a copy put again by the reconciler after the manager
    // holding the maintenance lease died: the rest of its terms (up to 45 s: it takes the next
    // 30 s term halfway through its own), the grace (15 s), a pass interval (10 s), then the
    // run. A quick run's drain outlasts that by half.
    const drainUntil = Date.now() + (quick ? 120_000 : 180_000);
    for (;;) {
      const v = await checker.check(false).catch(() => undefined);
      if ((v && v.missing === 0) || Date.now() > drainUntil) break;
      await hold(2000);
    }
    await hold(1000);
    if (inject) await spoil(client, cluster.dbName, ledger, inject);
    const verdict = await checker.check(true);
    checks += 1;
    // Each lost or wrong job's story, from the servers and every process's log: in CI the
    // soak's output is all there is to go on.
    const stories = verdict.suspects.length > 0 ? await explainJobs(cluster, client, verdict.suspects) : [];
    const seconds = Math.ceil((Date.now() - ledger.t0) / 1000);
    mkdirSync(outDir, { recursive: true });
    const png = join(outDir, 'soak-throughput.png');
    await plotThroughput({
      path: png,
      t0: ledger.t0,
      seconds,
      acked: ledger.ackedPerSecond,
      completed: verdict.completedPerSecond,
      faults,
      title: `chaos soak, seed ${seed}: jobs/s (5 s buckets); bands: faults, from start to /readyz recovery`,
    });
    const table = summary({
      seed,
      minutes,
      wallMinutes: (Date.now() - startedAt) / 60_000,
      rate,
      rateFrom,
      ledger,
      faults,
      verdict,
      checks,
      requeued: cluster.requeued.size,
      processes: `${managers} managers, ${workers} workers, beanstalkd (binlog, -f 0), ${process.env.MONGO_URL ? 'MONGO_URL' : 'FerretDB 1.24 SQLite'}`,
    });
    const faultLog = faults
      .map(
        (f) =>
          `${((f.startedAt - ledger.t0) / 1000).toFixed(0)} s ${f.kind} ${f.target} for ${(f.holdMs / 1000).toFixed(1)} s, readyz ${f.recoveryMs === undefined ? 'NOT recovered' : `${(f.recoveryMs / 1000).toFixed(1)} s`}`,
      )
      .join('\n');
    const warnings = [...cluster.warnings]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 40)
      .map(([what, n]) => `${String(n).padStart(6)}  ${what}`)
      .join('\n');
    const errors = cluster.instances
      .flatMap((i) => i.errors.map((line) => `${i.role} ${i.slot} (pid ${i.pid}): ${line}`))
      .slice(-30);
    const report = [
      `# Chaos soak, seed ${seed}`,
      '',
      table,
      '## Faults, in order',
      '',
      '```',
      faultLog,
      '```',
      '',
      '## Violations',
      '',
      verdict.violations.length === 0 ? 'none' : verdict.violations.map((v) => `- ${v}`).join('\n'),
      '',
      ...(stories.length > 0
        ? [
            '## The lost or wrong jobs, as the servers and the logs tell them',
            '',
            '```',
            ...stories,
            '```',
            '',
          ]
        : []),
      '## Jobs that ran to the end twice with no fault nearby (the first 20; not a violation)',
      '',
      verdict.unexplained.length === 0 ? 'none' : verdict.unexplained.map((v) => `- ${v}`).join('\n'),
      '',
      '## Warning lines, by process role and message',
      '',
      '```',
      warnings,
      '```',
      '',
      '## Error-level log lines (the last 30)',
      '',
      '```',
      errors.join('\n'),
      '```',
      '',
      '![throughput](soak-throughput.png)',
      '',
    ].join('\n');
    writeFileSync(join(outDir, 'soak-report.md'), report);
    say('');
    say(table);
    say(`faults:\n${faultLog}`);
    for (const line of verdict.unexplained) say(`note: ${line}`);
    say(`warning lines, by role and message:\n${warnings}`);
    for (const line of verdict.violations) say(`VIOLATION ${line}`);
    for (const story of stories) say(story);
    if (verdict.violations.length > 0) {
      await cluster.copyLogs(join(outDir, 'logs'));
      say(`every process's log: ${join(outDir, 'logs')}`);
    }
    say(`report: ${join(outDir, 'soak-report.md')}; plot: ${png}`);
    say(
      verdict.violations.length === 0
        ? `PASS (seed ${seed})`
        : `FAIL: ${verdict.violations.length} violation(s) (seed ${seed})`,
    );
    return verdict.violations.length === 0 ? 0 : 1;
  } finally {
    clearInterval(rssTimer);
    await load.stop().catch(() => undefined);
    await client.close().catch(() => undefined);
    await cluster.stop();
  }
}

/** --inject: breaks one outcome on purpose, so a run shows the checker failing. */
async function spoil(client: MongoClient, dbName: string, ledger: Ledger, how: string): Promise<void> {
  const id = [...ledger.acked].find(([, a]) => a.expect === 'hash')?.[0];
  if (!id) return;
  const results = client.db(dbName).collection<{ _id: string }>('results');
  if (how === 'lose') await results.deleteOne({ _id: id });
  else await results.updateOne({ _id: id }, { $set: { 'result.hash': '0'.repeat(32) } });
  say(`--inject ${how}: spoiled the outcome of ${id}`);
}

main().then(
  (code) => {
    process.exitCode = code;
    // Node 20 can spin in its exit-time cleanup once the loop is empty (global-setup.ts).
    process.once('beforeExit', () => process.exit());
  },
  (error: unknown) => {
    process.stderr.write(
      `soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);
