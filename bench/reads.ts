/**
 * `npm run bench -- --only reads`: every user-facing read at growing history — 1,000,
 * 100,000 and 1,000,000 jobs stored (`--quick`: 1,000 and 20,000; `--reads-sizes a,b,…`
 * picks others) — in one run, so that each size's figures sit beside the smallest size's.
 *
 * History is loaded through the store's own batch path (createStore: job records with their
 * job-log segments, then outcomes, each coalesced into insertMany of 500), 99 % completed and
 * 1 % failed (marked among the failed, as a worker does; not counted in any tally). The bench then writes those outcomes into the log's segments itself, as the
 * reconciler's settle step would after its passes (a few hundred jobs a second, back to back
 * while behind: `npm run bench:maintenance`); the newest 10,000 loaded jobs are left
 * unsettled, like the head of a live log, and builds the type directory with the maintenance
 * pass's own step (manager/background/type-index.ts). On top, each size gets jobs that are really queued
 * and running (posted through the manager to a type no worker serves, some reserved by the
 * bench) and, once, a 10,000-job matrix group run to completion by real workers.
 */
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { decodeEnvelope } from '../src/jobs/envelope.js';
import { jobIdTime, newJobId } from '../src/jobs/job-id.js';
import { freePort, waitForPort } from '../src/local/servers.js';
import { indexLogTypes } from '../src/manager/background/type-index.js';
import { type Consumer, createConsumer } from '../src/queue/index.js';
import {
  createStore,
  type JobDocument,
  type LogSegment,
  type ResultDocument,
  type SettledEntry,
  type Store,
} from '../src/store/index.js';
import { peakRssMb } from './clients.js';
import { fmt } from './format.js';

export interface ReadsContext {
  mongoUrl: string;
  beanstalkPort: number;
  sizes: number[];
  seconds: number;
  /** Spawns the CLI (`manager`, `worker`) with this environment added; the bench stops it. */
  spawn(args: string[], env: Record<string, string>, name: string): ChildProcess;
  measure(): () => string;
  add(what: string, value: string, baseline: string, ratio: string, cpu: string): void;
  say(line: string): void;
}

/** Its own database and tubes: the other measures' jobs are not in this history. */
const DB = 'bench_reads';
const TUBE_PREFIX = 'reads.';
/** A type no worker serves: its jobs stay queued (or running, when the bench reserves them). */
const IDLE_TYPE = 'idle';
const WORKERS = 2;
/** Fresh managers that each build the 10,000-job group's answer once (its cost without the kept answer). */
const COLD_MANAGERS = 3;

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function call(url: string, method = 'GET', body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: body
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
          : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0);
const ms = (value: number) => (value < 10 ? value.toFixed(1) : fmt(value));

/** `concurrency` loops calling `next()` for `seconds` after a second's warm-up: req/s and latency percentiles. */
async function load(seconds: number, concurrency: number, next: () => Promise<{ status: number }>) {
  const warm = performance.now() + 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warm) await next();
    }),
  );
  const latencies: number[] = [];
  let bad = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const { status } = await next();
        latencies.push(performance.now() - t);
        if (status !== 200) bad += 1;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), bad };
}

/** `count` calls one after another: latency percentiles (for reads that are pages, not points). */
async function repeat(count: number, next: () => Promise<{ status: number }>) {
  const latencies: number[] = [];
  let bad = 0;
  for (let i = 0; i < count; i += 1) {
    const t = performance.now();
    const { status } = await next();
    latencies.push(performance.now() - t);
    if (status !== 200) bad += 1;
  }
  const first = latencies[0] ?? Number.NaN;
  latencies.sort((a, b) => a - b);
  return { first, p50: pct(latencies, 50), p99: pct(latencies, 99), bad };
}

/** Loads `count` finished jobs through the store's batch path; answers a sample of their ids. */
export async function loadHistory(store: Store, count: number, say: (line: string) => void) {
  const sample: string[] = [];
  const outcomes = new Map<string, SettledEntry>();
  const t0 = performance.now();
  const chunk = 5_000;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const ids = Array.from({ length: n }, () => newJobId());
    await Promise.all(
      ids.map((id, i) => {
        const payload = JSON.stringify({ n: done + i });
        const doc: JobDocument = {
          _id: id,
          type: 'hash',
          payload,
          bytes: payload.length,
          options: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
          createdAt: jobIdTime(id),
        };
        return store.insertJob(doc);
      }),
    );
    const now = new Date();
    await Promise.all(
      ids.map((id, i) => {
        const failed = (done + i) % 100 === 99;
        const doc: ResultDocument = {
          _id: id,
          type: 'hash',
          outcome: failed ? 'failed' : 'completed',
          ...(failed
            ? { error: { message: 'bench: failed on purpose' } }
            : { result: { algorithm: 'md5', hash: '0'.repeat(32) } }),
          worker: 'bench-loader',
          attempt: 1,
          maxAttempts: 3,
          // As a worker stores it: a small payload rides along with its outcome.
          payload: JSON.stringify({ n: done + i }),
          startedAt: now,
          finishedAt: now,
          durationMs: 0,
        };
        outcomes.set(id, { outcome: doc.outcome, finishedAt: now });
        // As a worker does: a failed outcome is also marked among the failed (GET /jobs?state=failed).
        const marking = failed
          ? store.markState('failed', {
              id,
              state: 'failed',
              at: now,
              type: 'hash',
              error: 'bench: failed on purpose',
            })
          : undefined;
        return Promise.all([store.saveResult(doc), marking]);
      }),
    );
    for (let i = 0; i < n; i += 97) sample.push(ids[i] as string);
    if ((done + n) % 100_000 === 0 || done + n === count) {
      say(
        `    loaded ${fmt(done + n)} of ${fmt(count)} (${fmt((done + n) / ((performance.now() - t0) / 1000))} jobs/s)`,
      );
    }
  }
  return { sample, outcomes, seconds: (performance.now() - t0) / 1000 };
}

/** Writes the loaded outcomes into their segments, as the reconciler would, but the newest `keep` jobs. */
async function settle(store: Store, outcomes: Map<string, SettledEntry>, keepUnsettled: number) {
  const meta = await store.log.readLogMeta();
  const head = await store.log.logHead(meta);
  let left = keepUnsettled;
  let n = head;
  // Leave the newest segments as a live log has them.
  while (n >= 1 && left > 0) {
    const segment = await store.log.readSegment(n);
    left -= segment?.jobs.length ?? 0;
    n -= 1;
  }
  let settledThrough = meta.settledThrough;
  for (let m = meta.settledThrough + 1; m <= n; m += 1) {
    const segment: LogSegment | null = await store.log.readSegment(m);
    if (!segment) continue;
    if (!segment.settled) {
      const settled = segment.jobs.map((entry) => outcomes.get(entry.id));
      if (settled.some((s) => s === undefined)) break;
      await store.log.replaceSegment({ ...segment, settled: settled as SettledEntry[] });
    }
    settledThrough = m;
  }
  await store.log.saveLogMeta({ ...(await store.log.readLogMeta()), settledThrough });
}

export async function measureReads(ctx: ReadsContext): Promise<void> {
  const env = {
    BEANSTALK_PORT: String(ctx.beanstalkPort),
    MONGO_URL: ctx.mongoUrl,
    MONGO_DB: DB,
    QUEUE_TUBE_PREFIX: TUBE_PREFIX,
    LOG_LEVEL: 'warn',
    RECONCILE_INTERVAL_SECONDS: '0',
    JOB_TYPES: `hash,${IDLE_TYPE}`,
  };
  const port = await freePort();
  const manager = ctx.spawn(
    ['manager'],
    { ...env, MANAGER_LISTEN_PORT: String(port), MANAGER_LISTEN_HOST: '127.0.0.1' },
    'manager',
  );
  await waitForPort(port, 15_000, manager);
  const base = `http://127.0.0.1:${port}`;
  const workers: ChildProcess[] = [];
  const rss = () => [manager, ...workers].map((child) => fmt(peakRssMb(child.pid))).join(', ');
  const store = createStore({ url: ctx.mongoUrl, dbName: DB, timeoutMs: 30_000, insertRetryMs: 30_000 });
  const held: Consumer[] = [];
  const reserveSome = async (count: number): Promise<string[]> => {
    const consumer = createConsumer({
      host: '127.0.0.1',
      port: ctx.beanstalkPort,
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
      tubes: [`${TUBE_PREFIX}${IDLE_TYPE}`],
    });
    held.push(consumer);
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const job = await consumer.reserve(5);
      const envelope = job && decodeEnvelope(job.body);
      if (envelope) ids.push(envelope.id);
    }
    return ids;
  };
  const outcomes = new Map<string, SettledEntry>();
  const completed: string[] = [];
  const queued: string[] = [];
  let stored = 0;
  let group: string | undefined;
  const baseline = new Map<string, number>();
  try {
    for (const size of ctx.sizes) {
      ctx.say(`  -- reads at ${fmt(size)} jobs stored`);
      // Queued jobs first: a backlog behind the newer finished work loaded next.
      for (let i = 0; i < 200; i += 1) {
        const res = await call(`${base}/jobs?type=${IDLE_TYPE}`, 'POST', `{"q":${i}}`);
        queued.push((JSON.parse(res.text) as { id: string }).id);
      }
      if (group === undefined) {
        // A 10,000-job matrix group, run to completion by the workers.
        const axis = Array.from({ length: 100 }, (_, i) => i);
        const res = await call(
          `${base}/jobs/matrix`,
          'POST',
          JSON.stringify({ template: { bench: 'group' }, axes: { a: axis, b: axis } }),
        );
        if (res.status !== 202) throw new Error(`matrix answered ${res.status}: ${res.text.slice(0, 200)}`);
        group = (JSON.parse(res.text) as { group: string }).group;
        for (let i = 0; i < WORKERS; i += 1)
          workers.push(ctx.spawn(['worker'], { ...env, WORKER_NAME: `reads${i}` }, `worker${i}`));
        for (const deadline = Date.now() + 300_000; ; ) {
          const g = JSON.parse((await call(`${base}/groups/${group}`)).text) as { done: boolean };
          if (g.done) break;
          if (Date.now() > deadline) throw new Error('the 10,000-job group did not finish in 5 minutes');
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      const loaded = await loadHistory(store, size - stored, ctx.say);
      for (const [id, o] of loaded.outcomes) outcomes.set(id, o);
      completed.push(...loaded.sample.filter((id) => outcomes.get(id)?.outcome === 'completed'));
      stored = size;
      await settle(store, outcomes, 10_000);
      // The type directory, built by the maintenance pass's own step (ten blocks a pass) until
      // every complete block has one.
      const indexStarted = performance.now();
      let blocks = 0;
      for (let behind = true; behind; ) {
        const report = await indexLogTypes(store.log);
        blocks += report.blocks;
        behind = report.behind;
      }
      ctx.say(`     type directory: ${blocks} blocks built in ${fmt(performance.now() - indexStarted)} ms`);
      // Running: 20 of the queued ones, reserved on connections the bench holds.
      const running = await reserveSome(20);
      const total = size + 10_000 + queued.length;

      const rate = async (label: string, ids: string[]) => {
        const cpu = ctx.measure();
        const r = await load(ctx.seconds, 16, () =>
          call(`${base}/jobs/${ids[Math.floor(Math.random() * ids.length)]}`),
        );
        const first = baseline.get(label);
        if (first === undefined) baseline.set(label, r.rps);
        ctx.add(
          `${fmt(total)} jobs: GET /jobs/:id ${label} req/s (p50/p99 ms)`,
          `${fmt(r.rps)} (${ms(r.p50)}/${ms(r.p99)})${r.bad ? `, ${r.bad} not 200` : ''}`,
          first === undefined ? 'goal ≥ 1,000 req/s at 1M' : `${fmt(first)} at the smallest size`,
          first === undefined ? '' : `${fmt(r.rps / first, 2)}× (goal ≥ 0.5×)`,
          cpu(),
        );
      };
      await rate('completed', completed);
      await rate(
        'queued',
        queued.filter((id) => !running.includes(id)),
      );
      await rate('running', running);

      const page = async (label: string, url: () => string, goal: string, count = 30) => {
        const cpu = ctx.measure();
        let last = '';
        const r = await repeat(count, async () => {
          const res = await call(url());
          last = res.text;
          return res;
        });
        const answer = JSON.parse(last) as { jobs?: unknown[]; groups?: unknown[] };
        const shown = label.includes('/jobs?')
          ? answer.jobs
          : label.includes('/groups?')
            ? answer.groups
            : undefined;
        ctx.add(
          `${fmt(total)} jobs: ${label} ms p50/p99 of ${count} (the first)`,
          `${ms(r.p50)}/${ms(r.p99)} (${ms(r.first)})${shown ? `, ${shown.length} shown` : ''}${r.bad ? `, ${r.bad} not 200` : ''}`,
          goal,
          '',
          cpu(),
        );
      };
      await page('GET /jobs?limit=50, first page', () => `${base}/jobs?limit=50`, 'goal p50 < 50 ms at 1M');
      // A cursor walk 10,000 jobs deep (20 pages of 500), then the page there.
      let cursor = '';
      const walkStart = performance.now();
      for (let i = 0; i < 20; i += 1) {
        const res = JSON.parse((await call(`${base}/jobs?limit=500${cursor}`)).text) as {
          nextCursor: string | null;
        };
        cursor = res.nextCursor ? `&cursor=${res.nextCursor}` : '';
      }
      const walkMs = performance.now() - walkStart;
      await page(
        `GET /jobs?limit=50 10,000 deep (walk there: 20 pages of 500 in ${fmt(walkMs)} ms)`,
        () => `${base}/jobs?limit=50${cursor}`,
        'goal p50 < 50 ms at 1M',
      );
      await page(
        `GET /jobs?type=${IDLE_TYPE}&limit=50 (its ${queued.length} queued jobs lie below the history)`,
        () => `${base}/jobs?type=${IDLE_TYPE}&limit=50`,
        'goal p50 < 50 ms at 1M',
      );
      await page(
        'GET /jobs?state=completed&limit=50',
        () => `${base}/jobs?state=completed&limit=50`,
        'goal p50 < 50 ms at 1M',
      );
      await page(
        'GET /jobs?state=failed&limit=50',
        () => `${base}/jobs?state=failed&limit=50`,
        '1 job in 100 failed',
      );
      // A finished group's answer is kept by the manager that built it: the repeated reads
      // below are that; a manager that never read the group shows the cost of building it.
      // Three such managers, one after another: one first read is one sample.
      const coldMs: number[] = [];
      let coldFailed = 0;
      for (let round = 0; round < COLD_MANAGERS; round += 1) {
        const coldPort = await freePort();
        const cold = ctx.spawn(
          ['manager'],
          { ...env, MANAGER_LISTEN_PORT: String(coldPort), MANAGER_LISTEN_HOST: '127.0.0.1' },
          `cold-manager${round}`,
        );
        await waitForPort(coldPort, 15_000, cold);
        // Its connections to beanstalkd and MongoDB up first: the group's cost, not the start's.
        for (
          const deadline = Date.now() + 15_000;
          (await call(`http://127.0.0.1:${coldPort}/readyz`)).status !== 200;
        ) {
          if (Date.now() > deadline) throw new Error('the second manager did not get ready');
          await new Promise((r) => setTimeout(r, 100));
        }
        const coldStart = performance.now();
        const coldRes = await call(`http://127.0.0.1:${coldPort}/groups/${group}`);
        coldMs.push(performance.now() - coldStart);
        if (coldRes.status !== 200) coldFailed += 1;
        cold.kill('SIGTERM');
        await new Promise((r) => (cold.exitCode !== null ? r(null) : cold.once('exit', r)));
      }
      ctx.add(
        `${fmt(total)} jobs: GET /groups/:id (10,000 jobs, done), built by a manager that never read it ms, each of ${COLD_MANAGERS} managers`,
        `${coldMs.map(ms).join(', ')}${coldFailed > 0 ? `, ${coldFailed} not 200` : ''}`,
        'goal < 100 ms',
        '',
        '',
      );
      await page(`GET /groups/:id (10,000 jobs, done)`, () => `${base}/groups/${group}`, 'goal < 100 ms', 20);
      // The one group lies below the whole history: its index mark is the newest, so the first
      // page finds it at once.
      await page(
        'GET /groups?limit=20, first page',
        () => `${base}/groups?limit=20`,
        'goal p50 < 50 ms at 1M',
      );
      const groupWalk = performance.now();
      let groupPages = 0;
      let groupsFound = 0;
      for (let next = ''; groupPages === 0 || next !== ''; groupPages += 1) {
        const res = JSON.parse((await call(`${base}/groups?limit=20${next}`)).text) as {
          groups: unknown[];
          nextCursor: string | null;
        };
        groupsFound += res.groups.length;
        next = res.nextCursor ? `&cursor=${res.nextCursor}` : '';
      }
      ctx.add(
        `${fmt(total)} jobs: GET /groups?limit=20 paged to the end of the index: pages, ms, groups found`,
        `${fmt(groupPages)} pages, ${fmt(performance.now() - groupWalk)} ms, ${groupsFound} found`,
        'one page: the index holds groups only',
        '',
        '',
      );
      await page('GET /stats', () => `${base}/stats`, 'goal < 50 ms at 1M');
      const lookup = JSON.stringify({ ids: completed.slice(0, 1000) });
      const cpu = ctx.measure();
      const outcomesRun = await repeat(10, () => call(`${base}/jobs/outcomes`, 'POST', lookup));
      ctx.add(
        `${fmt(total)} jobs: POST /jobs/outcomes of ${fmt(Math.min(1000, completed.length))} ids ms p50/p99`,
        `${ms(outcomesRun.p50)}/${ms(outcomesRun.p99)}${outcomesRun.bad ? `, ${outcomesRun.bad} not 200` : ''}`,
        '$in reads of 100 ids, 4 in flight',
        '',
        cpu(),
      );
      ctx.add(`${fmt(total)} jobs: peak RSS MB: manager, workers`, rss(), 'goal < 150 each', '', '');
      // Back to ready for the next size: reserved again there.
      for (const consumer of held.splice(0)) await consumer.close();
    }
  } finally {
    for (const consumer of held.splice(0)) await consumer.close();
    await store.close();
  }
}
