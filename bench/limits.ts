/**
 * `npm run bench:limits`: issue 19's proof of the limits per type, run for real
 * (docs/limits-design.md). Its own beanstalkd and FerretDB, one manager, 3 worker processes ×
 * 64 slots; a type `rated` (10 ms jobs) limited to RATE a second with a burst of BURST, and a
 * type `capped` (200 ms jobs) limited to CAP at once, each with a backlog well beyond what its
 * limit lets through, for 60 s (`--quick`: 15 s). Each job records when its handler began and
 * ended (bench/limits-handlers.mjs); the figures are read from those: the most starts in any 1-s
 * window against N + B, the sustained rate, the most running at once against K, and the churn
 * (jobs released for a limit, the workers' `dw_limit_waits_total`). The baseline, in the same run
 * and on the same processes, is the same types without limits.
 * Options: `--quick`, `--wait-ms=N` (WORKER_LIMIT_WAIT_MS), `--rate=N` and `--burst=B` (`rated`'s
 * limit; default 50, and a burst of twice the rate: burst / rate = 2 s; B must be a whole
 * multiple of N, as the API asks), `--cli=PATH` (default dist/index.js).
 * Not a test: it prints figures.
 */
import './no-orphans.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { maxInWindow, maxOverlap } from '../src/load/windows.js';
import {
  freePort,
  installBackends,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../src/local/servers.js';
import { badArgs, benchArgs, wholeNumber } from './args.js';
import { postBatches, spawnNode, stop } from './clients.js';
import { fmt } from './format.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = benchArgs(import.meta.url, {
  quick: { type: 'boolean' },
  'wait-ms': { type: 'string' },
  rate: { type: 'string' },
  burst: { type: 'string' },
  cli: { type: 'string' },
});
const cli = flags.cli ?? join(root, 'dist', 'index.js');
const waitMs = flags['wait-ms'];
const quick = flags.quick === true;
const say = (line: string) => process.stdout.write(`${line}\n`);

const SECONDS = quick ? 15 : 60;
const WORKERS = 3;
const SLOTS = 64;
const RATE = wholeNumber(import.meta.url, 'rate', flags.rate, 50);
const BURST = wholeNumber(import.meta.url, 'burst', flags.burst, flags.rate === undefined ? 100 : RATE * 2);
if (BURST % RATE !== 0)
  badArgs(import.meta.url, `--burst (${BURST}) must be a whole multiple of --rate (${RATE})`);
const CAP = 20;
const CAPPED_MS = 200;
const DB = 'bench-limits';

interface Run {
  start: number;
  end: number;
}

/** Each finished job's own start and end (its result), by type, from `since` on. */
async function runsOf(mongoUrl: string, type: string, since: number): Promise<Run[]> {
  const client = new MongoClient(mongoUrl);
  try {
    const docs = await client
      .db(DB)
      .collection<{ _id: string; type: string; result?: Run }>('results')
      .find({ type }, { projection: { result: 1 } })
      .toArray();
    return docs
      .map((doc) => doc.result)
      .filter((run): run is Run => run !== undefined && run.start >= since)
      .sort((a, b) => a.start - b.start);
  } finally {
    await client.close();
  }
}

/** The workers' `dw_limit_waits_total`, summed, by `type/reason`. */
async function limitWaits(ports: readonly number[]): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  for (const port of ports) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const match of text.matchAll(/^dw_limit_waits_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm)) {
      const labels = Object.fromEntries(
        [...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
      );
      const key = `${labels.type}/${labels.reason}`;
      sums.set(key, (sums.get(key) ?? 0) + Number(match[2]));
    }
  }
  return sums;
}

const lines = (count: number) => Array.from({ length: count }, (_, i) => JSON.stringify({ i }));

async function putLimits(base: string, type: string, body: unknown): Promise<void> {
  const res = await fetch(`${base}/types/${type}/limits`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`PUT limits answered ${res.status}: ${await res.text()}`);
}

/** Waits until `type` has `count` results from `since` on (or `deadlineMs` passes). */
async function waitForRuns(mongoUrl: string, type: string, since: number, count: number, deadlineMs: number) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const runs = await runsOf(mongoUrl, type, since);
    if (runs.length >= count || Date.now() > deadline) return runs;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function describeRuns(runs: readonly Run[]) {
  const starts = runs.map((r) => r.start);
  const span = starts.length > 1 ? ((starts.at(-1) as number) - (starts[0] as number)) / 1000 : 0;
  return { starts, span, most1s: maxInWindow(starts, 1000), running: maxOverlap(runs) };
}

async function main(): Promise<void> {
  installBackends();
  const beanstalkd = await startBeanstalkd({});
  const mongo = await startMongoServer();
  const port = await freePort();
  const metricsPorts = await Promise.all(Array.from({ length: WORKERS }, () => freePort()));
  const env = {
    BEANSTALK_PORT: String(beanstalkd.port),
    MONGO_URL: mongo.url,
    MONGO_DB: DB,
    LOG_LEVEL: 'warn',
  };
  const manager = spawnNode([cli, 'manager'], {
    ...env,
    MANAGER_LISTEN_PORT: String(port),
    MANAGER_LISTEN_HOST: '127.0.0.1',
    JOB_TYPES: 'rated,capped',
  });
  const workers = metricsPorts.map((metricsPort, i) =>
    spawnNode([cli, 'worker'], {
      ...env,
      WORKER_NAME: `bench${i}`,
      WORKER_CONCURRENCY: String(SLOTS),
      WORKER_HANDLERS: join(root, 'bench', 'limits-handlers.mjs'),
      WORKER_TYPES: 'rated,capped',
      WORKER_METRICS_PORT: String(metricsPort),
      ...(waitMs !== undefined ? { WORKER_LIMIT_WAIT_MS: waitMs } : {}),
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, 30_000, manager);
    await Promise.all(metricsPorts.map((p, i) => waitForPort(p, 30_000, workers[i])));
    say(
      `limits bench${quick ? ' (quick)' : ''}: ${WORKERS} workers × ${SLOTS} slots, ${SECONDS} s; rated: ${RATE}/s burst ${BURST} (10 ms jobs), capped: ${CAP} at once (${CAPPED_MS} ms jobs)${waitMs !== undefined ? `, WORKER_LIMIT_WAIT_MS=${waitMs}` : ''}`,
    );

    // Baseline: the same types, no limits, a backlog each, drained.
    const baselineJobs = quick ? 1000 : 3000;
    const b0 = Date.now();
    await postBatches(`${base}/jobs/batch?type=rated`, lines(baselineJobs), 2);
    await postBatches(`${base}/jobs/batch?type=capped`, lines(baselineJobs), 2);
    for (const type of ['rated', 'capped']) {
      const runs = await waitForRuns(mongo.url, type, b0, baselineJobs, 120_000);
      const d = describeRuns(runs);
      say(
        `  baseline ${type.padEnd(6)}: ${fmt(runs.length)} jobs, most starts in any 1 s ${fmt(d.most1s)}, most running at once ${fmt(d.running)}, ${fmt(runs.length / Math.max(d.span, 0.001))} starts/s`,
      );
    }

    // Limited: the limits set, then backlogs beyond what they let through in SECONDS.
    await putLimits(base, 'rated', { rate_per_second: RATE, burst: BURST });
    await putLimits(base, 'capped', { concurrency: CAP });
    // Past the workers' cache of limits (2 s): every worker applies them from here on.
    await new Promise((r) => setTimeout(r, 2500));
    const waitsBefore = await limitWaits(metricsPorts);
    const t0 = Date.now();
    const cappedPerSecond = CAP * (1000 / CAPPED_MS);
    await Promise.all([
      postBatches(`${base}/jobs/batch?type=rated`, lines(Math.ceil((RATE * SECONDS + BURST) * 1.2)), 1),
      postBatches(`${base}/jobs/batch?type=capped`, lines(Math.ceil(cappedPerSecond * SECONDS * 1.2)), 1),
    ]);
    const posted = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + SECONDS * 1000 - Date.now())));
    const waitsAfter = await limitWaits(metricsPorts);
    // Jobs started in the window finish within their 200 ms and a tally commit.
    await new Promise((r) => setTimeout(r, 3000));
    const inWindow = (runs: Run[]) => runs.filter((r) => r.start < t0 + SECONDS * 1000);

    const rated = describeRuns(inWindow(await runsOf(mongo.url, 'rated', t0)));
    const sustained = (rated.starts.length - BURST) / Math.max(rated.span, 0.001);
    say(`  backlogs posted in ${fmt(posted, 1)} s`);
    say(
      `  limited rated : ${fmt(rated.starts.length)} starts in ${SECONDS} s; most in any 1 s ${fmt(rated.most1s)} (limit N + B = ${RATE + BURST}); sustained ${fmt(sustained, 1)}/s after the burst (N = ${RATE}); ${fmt(rated.starts.length / SECONDS, 1)}/s over the window`,
    );
    const capped = describeRuns(inWindow(await runsOf(mongo.url, 'capped', t0)));
    say(
      `  limited capped: ${fmt(capped.starts.length)} starts in ${SECONDS} s; most running at once ${fmt(capped.running)} (K = ${CAP}); ${fmt(capped.starts.length / SECONDS, 1)} starts/s (K / ${CAPPED_MS} ms = ${fmt(cappedPerSecond)}/s at best)`,
    );
    const churn = [...waitsAfter].map(([key, n]) => [key, n - (waitsBefore.get(key) ?? 0)] as const);
    const total = (type: string) =>
      churn.filter(([key]) => key.startsWith(`${type}/`)).reduce((a, [, n]) => a + n, 0);
    say(
      `  churn (jobs released for a limit, dw_limit_waits_total): rated ${fmt(total('rated'))} (${fmt(total('rated') / SECONDS, 1)}/s, ${fmt(total('rated') / Math.max(1, rated.starts.length), 2)} per start), capped ${fmt(total('capped'))} (${fmt(total('capped') / SECONDS, 1)}/s, ${fmt(total('capped') / Math.max(1, capped.starts.length), 2)} per start)`,
    );
    const holds = rated.most1s <= RATE + BURST && capped.running <= CAP;
    say(`  ${holds ? 'held' : 'NOT HELD'}: starts ≤ N + B in every second, running ≤ K throughout`);
  } finally {
    await Promise.all(workers.map((worker) => stop(worker)));
    await stop(manager);
    await mongo.stop();
    await beanstalkd.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
