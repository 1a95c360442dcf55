/**
 * `npm run bench:long-poll`: how soon `GET /jobs/<id>?wait=N` answers once a job ends, beside
 * a client polling GET every 100 ms (the baseline, measured in the same run), and what 10,000
 * waiting requests cost one manager. Built manager and worker on their own beanstalkd and
 * FerretDB. Latency is from the outcome's `finishedAt` (stamped by the worker when the handler
 * returned, before its insert and tally commit) to the client holding the answer, and from the
 * notice entry's `storedAt` (the insert acknowledged: where the goal starts). RSS is read as it
 * stands and after a full GC. `--quick` is smaller; `--waiters-only`, `--latency-only`,
 * `--burst-only` and `--drain` (what the tally's commit cadence costs a drain) run one part.
 * Not a test: it prints figures (issue "completion push": within 100 ms p99 of the outcome
 * being stored; 10,000 waiters on one manager under 150 MB RSS).
 */
import './no-orphans.js';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import {
  freePort,
  installBackends,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../src/local/servers.js';
import { fromStoredNotice, type StoredNotice } from '../src/store/index.js';
import { benchArgs } from './args.js';
import { rssMb, spawnNode, stop } from './clients.js';
import { fmt, latencySummary } from './format.js';
import { removeOnExit } from './no-orphans.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'index.js');
const say = (line: string) => process.stdout.write(`${line}\n`);
const { values: flags } = benchArgs(import.meta.url, {
  quick: { type: 'boolean' },
  'waiters-only': { type: 'boolean' },
  'latency-only': { type: 'boolean' },
  'burst-only': { type: 'boolean' },
  drain: { type: 'boolean' },
});
const quick = flags.quick === true;
/** Only the cost of many waiting requests. */
const waitersOnly = flags['waiters-only'] === true;
/** Only the latencies (no 10,000 waiters, no floor). */
const latencyOnly = flags['latency-only'] === true || flags['burst-only'] === true;
/**
 * Only what the tally's commit cadence costs the drain: DRAIN jobs of 0 ms through the one
 * worker, timed until their outcomes are in committed tallies.
 */
const drainOnly = flags.drain === true;
const DRAIN = quick ? 5000 : 20_000;
/** Only the burst's latencies (no one-at-a-time part, no 10,000 waiters, no floor). */
const burstOnly = flags['burst-only'] === true;
const SEQUENTIAL = quick ? 50 : 200;
const CONCURRENT = quick ? 200 : 1000;
const MANY = quick ? 2000 : 10_000;

const summary = latencySummary;

/**
 * Loaded into the manager and the bare server (with --expose-gc): SIGUSR2 runs a full GC, so
 * that RSS can be read both as it stands and without the garbage not yet collected.
 */
const gcPreload = join(removeOnExit(mkdtempSync(join(tmpdir(), 'bench-long-poll-'))), 'gc-on-signal.cjs');
writeFileSync(gcPreload, "process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc(); });\n");
const gcOptions = `${process.env.BENCH_NODE_OPTIONS ?? ''} --expose-gc --require=${gcPreload}`.trim();

/** RSS in MB after a full GC of `pid` (started with gcOptions). */
async function rssAfterGcMb(pid: number): Promise<number> {
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 1500));
  return rssMb(pid);
}

/** The manager's V8 heap (used/total) and external memory in MB, from its /metrics. */
async function heapMb(base: string): Promise<string> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const mb = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
  return `heap used ${fmt(mb('nodejs_heap_size_used_bytes'))} of ${fmt(mb('nodejs_heap_size_total_bytes'))} MB, external ${fmt(mb('nodejs_external_memory_bytes'))} MB`;
}

/** When each answer of a waiting GET arrived (ms since the epoch), by job id. */
const arrivals = new Map<string, { at: number; burst: boolean }>();

interface View {
  id: string;
  state: string;
  finishedAt?: string;
}

async function postJobs(base: string, count: number, query = ''): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const lines = Array.from({ length: Math.min(1000, count - start) }, (_, i) =>
      JSON.stringify({ i: start + i }),
    );
    const res = await fetch(`${base}/jobs/batch${query}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-ndjson' },
      body: lines.join('\n'),
    });
    const answer = (await res.json()) as { jobs: Array<{ id: string }> };
    ids.push(...answer.jobs.map((job) => job.id));
  }
  return ids;
}

async function getView(url: string, signal?: AbortSignal): Promise<View> {
  const res = await fetch(url, { ...(signal ? { signal } : {}) });
  return (await res.json()) as View;
}

/** Milliseconds from the job's end to now, once the answer says it ended. */
const sinceEnd = (view: View) => (view.finishedAt ? Date.now() - Date.parse(view.finishedAt) : Number.NaN);

async function waiting(base: string): Promise<number> {
  // Once more on a failure: a keep-alive connection the manager closed meanwhile.
  const text = await fetch(`${base}/metrics`)
    .catch(() => fetch(`${base}/metrics`))
    .then((res) => res.text());
  return Number(/^dw_waiting_requests (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  installBackends();
  const beanstalkd = await startBeanstalkd({});
  const mongo = await startMongoServer();
  const port = await freePort();
  const env = {
    BEANSTALK_PORT: String(beanstalkd.port),
    MONGO_URL: mongo.url,
    MONGO_DB: 'bench-long-poll',
    LOG_LEVEL: 'warn',
  };
  const manager = spawnNode([cli, 'manager'], {
    ...env,
    MANAGER_LISTEN_PORT: String(port),
    MANAGER_LISTEN_HOST: '127.0.0.1',
    MANAGER_MAX_CONNECTIONS: String(MANY + 1000),
    MAX_WAITERS: String(MANY + 1000),
    NODE_OPTIONS: gcOptions,
  });
  // Each job takes 150-250 ms: a waiter asked right after the POST is in place before it ends.
  const worker = spawnNode([cli, 'worker'], { ...env, WORKER_WORK_DELAY_MS: drainOnly ? '0' : '150-250' });
  const base = `http://127.0.0.1:${port}`;
  const pid = manager.pid as number;
  try {
    await waitForPort(port, 30_000, manager);
    say(`long-poll bench${quick ? ' (quick)' : ''}: one manager, one worker (64 slots, jobs of 150-250 ms)`);

    if (drainOnly) {
      await drain(base, mongo.url);
      return;
    }
    if (!waitersOnly) {
      await latencies(base);
      await noticeLag(mongo.url);
    }
    if (latencyOnly) return;
    await manyWaiting(base, pid);
    await bareFloor();
  } finally {
    await stop(worker);
    await stop(manager);
    await mongo.stop();
    await beanstalkd.stop();
  }
}

/** Jobs/s from posting DRAIN jobs of 0 ms to their outcomes all being in committed tallies. */
async function drain(base: string, url: string): Promise<void> {
  const client = new MongoClient(url);
  try {
    const tallies = client.db('bench-long-poll').collection('tallies');
    const counted = async () => {
      let sum = 0;
      for (const doc of await tallies.find({}).toArray())
        for (const counts of Object.values(doc.counts as Record<string, { completed: number }>))
          sum += counts.completed;
      return sum;
    };
    const started = performance.now();
    await postJobs(base, DRAIN);
    const posted = performance.now();
    while ((await counted()) < DRAIN) await new Promise((r) => setTimeout(r, 50));
    const ms = performance.now() - started;
    // Commits that counted ends each wrote a notice: what the cadence costs the store in writes.
    let notices = 0;
    for (const doc of await tallies.find({}).toArray()) notices += (doc.notices as number | undefined) ?? 0;
    say(
      `drain: ${fmt(DRAIN)} jobs of 0 ms (posted in ${fmt(posted - started)} ms) counted in committed tallies after ${fmt(ms)} ms: ${fmt((DRAIN * 1000) / ms)} jobs/s; ${fmt(notices)} commits with ends (${fmt(DRAIN / notices, 1)} jobs a commit)`,
    );
  } finally {
    await client.close();
  }
}

/**
 * The worker's part: from a job's end to the commit whose notice names it (the notice's `at`),
 * split at `storedAt` (when the outcome's insert was acknowledged, where the tally records
 * it); and each waiting GET's answer measured from `storedAt`, the goal's starting point.
 */
async function noticeLag(url: string): Promise<void> {
  const client = new MongoClient(url);
  try {
    const notices = await client
      .db('bench-long-poll')
      .collection<StoredNotice>('completions')
      .find({})
      .toArray();
    const entries = notices
      .map(fromStoredNotice)
      .flatMap((notice) => notice.entries.map((entry) => ({ ...entry, commit: notice.at.getTime() })));
    say(
      `of which the worker's part, end -> the commit naming it: ${summary(entries.map((e) => e.commit - e.at.getTime()))}`,
    );
    const stored = entries.filter((e) => e.storedAt !== undefined);
    if (stored.length === 0) {
      say('(the notices carry no storedAt: the split below needs a build that records it)');
      return;
    }
    const storedAt = (e: (typeof stored)[number]) => (e.storedAt as Date).getTime();
    const inBurst = stored.filter((e) => arrivals.get(e.id)?.burst === true);
    say(
      `  the burst's jobs, end -> the commit naming it: ${summary(inBurst.map((e) => e.commit - e.at.getTime()))}`,
    );
    say(
      `  the burst's jobs, end -> outcome insert acknowledged: ${summary(inBurst.map((e) => storedAt(e) - e.at.getTime()))}`,
    );
    say(
      `  the burst's jobs, insert acknowledged -> the commit naming it: ${summary(inBurst.map((e) => e.commit - storedAt(e)))}`,
    );
    for (const burst of [false, true]) {
      const lags = stored.flatMap((e) => {
        const arrival = arrivals.get(e.id);
        return arrival && arrival.burst === burst ? [arrival.at - storedAt(e)] : [];
      });
      say(
        `${burst ? `GET ?wait=60, the ${fmt(CONCURRENT)} jobs ending together` : 'GET ?wait=30, one job at a time'}: outcome stored -> client ${summary(lags)}`,
      );
    }
  } finally {
    await client.close();
  }
}

/** End -> client one job at a time: GET polling every 100 ms (the baseline), then ?wait=30. */
async function oneAtATime(base: string): Promise<void> {
  // One job at a time: the baseline polls every 100 ms, then the same with ?wait=30.
  const polled: number[] = [];
  let polls = 0;
  for (let i = 0; i < SEQUENTIAL; i += 1) {
    const [id] = await postJobs(base, 1);
    for (;;) {
      polls += 1;
      const view = await getView(`${base}/jobs/${id}?payload=false`);
      if (view.state === 'completed') {
        polled.push(sinceEnd(view));
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  say(
    `baseline, GET every 100 ms, one job at a time: end -> client ${summary(polled)}; ${fmt(polls / SEQUENTIAL, 1)} GETs a job`,
  );
  const waited: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i += 1) {
    const [id] = await postJobs(base, 1);
    const view = await getView(`${base}/jobs/${id}?payload=false&wait=30`);
    if (view.state === 'completed') {
      waited.push(sinceEnd(view));
      arrivals.set(view.id, { at: Date.now(), burst: false });
    }
  }
  say(`GET ?wait=30, one job at a time: end -> client ${summary(waited)}; 1 GET a job`);
}

/** End -> client latency: GET polling beside ?wait, one job at a time, then many at once. */
async function latencies(base: string): Promise<void> {
  if (!burstOnly) await oneAtATime(base);

  // Many at once: the jobs wait out a 5 s delay while their waiters connect (a few hundred at
  // a time: see manyWaiting), then all run within a few seconds of each other.
  const ids = await postJobs(base, CONCURRENT, '?delay=5');
  // Each latency is taken when its answer arrives, not once they all have.
  const answers: Array<Promise<number>> = [];
  for (let start = 0; start < ids.length; start += 250) {
    for (const id of ids.slice(start, start + 250))
      answers.push(
        getView(`${base}/jobs/${id}?payload=false&wait=60`).then((view) => {
          if (view.state !== 'completed') return Number.NaN;
          const lag = sinceEnd(view);
          arrivals.set(view.id, { at: Date.now(), burst: true });
          return lag;
        }),
      );
    const deadline = Date.now() + 5000;
    while ((await waiting(base)) < answers.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
  }
  const ended = (await Promise.all(answers)).filter((ms) => !Number.isNaN(ms));
  say(
    `GET ?wait=60, ${fmt(CONCURRENT)} jobs ending within seconds of each other, a waiter on each: end -> client ${summary(ended)}`,
  );
}

/** What waiting costs: jobs delayed past the wait, so nothing ends while they wait. */
async function manyWaiting(base: string, pid: number): Promise<void> {
  const idleRss = rssMb(pid);
  const idleHeap = await heapMb(base);
  const idleGcRss = await rssAfterGcMb(pid);
  const idleGcHeap = await heapMb(base);
  const held = await postJobs(base, MANY, '?delay=600');
  const leaving = held.map(() => new AbortController());
  let refused = 0;
  let firstRefusal = '';
  const opened = Date.now();
  // Opened 500 at a time: 10,000 connections at once overflow the listen backlog (511 here),
  // and the client's SYN retries then measure the kernel, not the manager.
  const pending: Array<Promise<void>> = [];
  let count = 0;
  for (let start = 0; start < held.length; start += 500) {
    for (let i = start; i < Math.min(start + 500, held.length); i += 1) {
      pending.push(
        getView(`${base}/jobs/${held[i]}?payload=false&wait=60`, leaving[i]?.signal).then(
          () => undefined,
          (error: unknown) => {
            if (leaving[i]?.signal.aborted) return;
            refused += 1;
            firstRefusal ||= String((error as { cause?: unknown }).cause ?? error);
          },
        ),
      );
    }
    const deadline = Date.now() + 20_000;
    while (count < pending.length - refused && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      count = await waiting(base);
    }
  }
  say(
    `${fmt(count)} of ${fmt(MANY)} requests waiting ${fmt((Date.now() - opened) / 1000, 1)} s after they were sent`,
  );
  const rss = rssMb(pid);
  const health: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    const started = performance.now();
    await (await fetch(`${base}/healthz`)).arrayBuffer();
    health.push(performance.now() - started);
  }
  if (refused > 0) say(`${fmt(refused)} waiting requests failed (the first: ${firstRefusal})`);
  say(
    `${fmt(count)} requests waiting: manager RSS ${fmt(rss)} MB (${fmt(idleRss)} MB before they came); /healthz meanwhile ${summary(health)}`,
  );
  const heldHeap = await heapMb(base);
  const gcRss = await rssAfterGcMb(pid);
  say(`  before they came: ${idleHeap}; after a full GC: RSS ${fmt(idleGcRss)} MB, ${idleGcHeap}`);
  say(`  while they wait: ${heldHeap}; after a full GC: RSS ${fmt(gcRss)} MB, ${await heapMb(base)}`);
  say(
    `  a waiting request: ${fmt(((rss - idleRss) * 1024) / count, 1)} KB as RSS stands, ${fmt(((gcRss - idleGcRss) * 1024) / count, 1)} KB after a full GC (both sides)`,
  );
  for (const controller of leaving) controller.abort();
  await Promise.all(pending);
  const after = Date.now() + 20_000;
  while ((await waiting(base)) > 0 && Date.now() < after) await new Promise((r) => setTimeout(r, 200));
  say(`after the clients left: ${fmt(await waiting(base))} waiting`);
}

/**
 * The floor under manyWaiting, in the same run: a bare `node:http` server that holds every
 * request it gets and does nothing else, opened to the same way (500 at a time).
 */
async function bareFloor(): Promise<void> {
  const port = await freePort();
  const server = spawnNode(
    [
      '-e',
      `const held = []; require('node:http').createServer((req, res) => held.push(res)).listen(${port}, '127.0.0.1');`,
    ],
    { NODE_OPTIONS: gcOptions },
  );
  try {
    await waitForPort(port, 10_000, server);
    const pid = server.pid as number;
    const idle = rssMb(pid);
    const idleGc = await rssAfterGcMb(pid);
    const leaving = new AbortController();
    setMaxListeners(MANY + 10, leaving.signal);
    const pending: Array<Promise<unknown>> = [];
    for (let start = 0; start < MANY; start += 500) {
      for (let i = start; i < Math.min(start + 500, MANY); i += 1)
        pending.push(fetch(`http://127.0.0.1:${port}/x`, { signal: leaving.signal }).catch(() => undefined));
      await new Promise((r) => setTimeout(r, 300));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const rss = rssMb(pid);
    const gcRss = await rssAfterGcMb(pid);
    say(
      `the floor: a bare node:http server holding ${fmt(MANY)} requests: RSS ${fmt(rss)} MB (${fmt(idle)} MB before they came); after a full GC ${fmt(gcRss)} MB (${fmt(idleGc)} MB before): ${fmt(((rss - idle) * 1024) / MANY, 1)} KB a request as RSS stands, ${fmt(((gcRss - idleGc) * 1024) / MANY, 1)} KB after a full GC`,
    );
    leaving.abort();
    await Promise.all(pending);
  } finally {
    await stop(server);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
