/**
 * `npx tsx bench/worker-path.ts [--jobs N] [--slots N] [--rounds N] [--sites N]`: what a worker's own
 * JavaScript costs per job — `runJob` with its outcome write, tally and delete, the code a drain
 * runs between the wire and the store — in this one process, with beanstalkd and the store
 * stood in for by answers given a turn later (no sockets, no server). Beside it, in the same run,
 * the bare work a job needs (parse the body, hash the payload, build the outcome) at the same
 * concurrency. Runs the build (`npm run build` first). Prints CPU µs per job and the garbage collector's share, each round alternating
 * the two. Not a test and not proof the system works (the real drain is `npm run bench`); a
 * steady meter for the worker's per-job code, whose share of a real drain moves too much from
 * run to run to show a change of a few per cent.
 *
 *   --jobs N     jobs per round and per measure (default 40000)
 *   --slots N    jobs in flight, as a worker's slots (default 64)
 *   --rounds N   rounds (default 3)
 *   --sites N    after the rounds, the N functions that allocate most on the worker path, with
 *                their bytes per job (default 0: none)
 *
 * Each round also counts the bytes allocated per job (V8's sampling heap profiler, objects
 * collected since included), in a pass of its own: sampling costs CPU, so it is not timed.
 */
import { createHash } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Consumer } from '../src/queue/consumer.js';
import type { ReservedJob } from '../src/queue/index.js';
import type { ResultDocument } from '../src/store/index.js';
import { benchArgs, wholeNumber } from './args.js';
import { fmt } from './format.js';

const { values: flags } = benchArgs(import.meta.url, {
  jobs: { type: 'string' },
  slots: { type: 'string' },
  rounds: { type: 'string' },
  sites: { type: 'string' },
});
const jobs = wholeNumber(import.meta.url, 'jobs', flags.jobs, 40_000, 1);
const slots = wholeNumber(import.meta.url, 'slots', flags.slots, 64, 1);
const rounds = wholeNumber(import.meta.url, 'rounds', flags.rounds, 3, 1);
const sites = wholeNumber(import.meta.url, 'sites', flags.sites, 0, 0);

/** A module of the build (`npm run build`): the JavaScript a worker runs, not tsx's translation. */
const built = <T>(path: string): Promise<T> => import(new URL(`../dist/src/${path}`, import.meta.url).href);
const { loadWorkerConfig } = await built<typeof import('../src/config/config.js')>('config/config.js');
const { builtinHandlers } = await built<typeof import('../src/handlers/index.js')>('handlers/index.js');
const { encodeEnvelope } = await built<typeof import('../src/jobs/envelope.js')>('jobs/envelope.js');
const { silentLogger } = await built<typeof import('../src/log.js')>('log.js');
const { parseJobStats } = await built<typeof import('../src/queue/job-stats.js')>('queue/job-stats.js');
const { InsertBatcher } = await built<typeof import('../src/store/driver/insert-batcher.js')>(
  'store/driver/insert-batcher.js',
);
const { startReporting } = await built<typeof import('../src/worker/observe/reporting.js')>(
  'worker/observe/reporting.js',
);
const { runJob } = await built<typeof import('../src/worker/run-job.js')>('worker/run-job.js');

/** A turn later, as an answer from a socket would come. */
const later = <T>(value: T) => new Promise<T>((resolve) => setImmediate(() => resolve(value)));

// beanstalkd 1.12's answer to stats-job for a job reserved once (taken from a real server).
const STATS = [
  '---',
  'id: 7',
  'tube: bench_hash',
  'state: reserved',
  'pri: 0',
  'age: 0',
  'delay: 0',
  'ttr: 60',
  'time-left: 59',
  'file: 0',
  'reserves: 1',
  'timeouts: 0',
  'releases: 0',
  'buries: 0',
  'kicks: 0',
  '',
].join('\n');

const consumer: Consumer = {
  server: '127.0.0.1:11300',
  reserve: () => later(null),
  statsJob: () => later(parseJobStats(STATS)),
  delete: () => later(undefined),
  release: () => later(undefined),
  bury: () => later(undefined),
  touch: () => later(undefined),
  setTubes: () => later(undefined),
  close: () => later(undefined),
};

// The outcome inserts go through the real batcher, into a collection that takes any batch a turn
// later and counts what it took: a measure stands only if every job stored its one outcome.
let stored = 0;
const results = new InsertBatcher<ResultDocument>(
  {
    insertMany: (docs: unknown[]) => {
      stored += docs.length;
      return later({ insertedCount: docs.length });
    },
  } as never,
  { maxBatch: 500, maxInFlight: 1, retryForMs: 1000 },
);
const store = {
  saveResult: (doc: ResultDocument) => results.insert(doc),
  findResult: () => later(null),
  recordAttempt: () => later(undefined),
  markGroupJob: () => later(undefined),
  markState: () => later(undefined),
  findJob: () => later(null),
  findQueueRef: () => later(null),
  findAttempts: () => later([]),
  saveTally: () => later(undefined),
  saveNotice: () => later(undefined),
  findTotals: () => later(null),
  saveWorker: () => later(undefined),
  removeWorkersSeenBefore: () => later(0),
  saveProgress: () => later(undefined),
};

const config = loadWorkerConfig({ WORKER_NAME: 'bench-worker' });
const log = silentLogger();
const handlers = builtinHandlers();
const reporting = await startReporting(config, { store: store as never, types: ['hash'], log });

let serial = 0;
function nextJob(): ReservedJob {
  serial += 1;
  const id = `019a0000-0000-7000-8000-${String(serial).padStart(12, '0')}`;
  const payload = JSON.stringify({ n: serial, example: 'data', at: '2026-12-04T00:00:00Z' });
  return {
    beanstalkId: String(serial),
    body: encodeEnvelope({ id, type: 'hash', maxAttempts: 3, payload }),
  };
}

/** Runs `count` jobs, `slots` at a time, each through `one`; a job's tail is not waited for by its slot. */
async function drive(count: number, one: (job: ReservedJob, slot: number) => Promise<unknown>) {
  let left = count;
  const tails: Promise<unknown>[] = [];
  await Promise.all(
    Array.from({ length: slots }, async (_, slot) => {
      while (left > 0) {
        left -= 1;
        tails.push(one(nextJob(), slot) as Promise<unknown>);
        await tails[tails.length - 1];
      }
    }),
  );
  await Promise.all(tails);
}

const stopSignal = new AbortController().signal;
async function workerPath(job: ReservedJob, slot: number): Promise<void> {
  const tail = await runJob(job, {
    consumer,
    store: reporting.store,
    handlers,
    log,
    workerName: `bench-worker:${slot}`,
    pickWorkDelayMs: () => 0,
    retryBaseMs: config.retryBaseMs,
    retryCapMs: config.retryCapMs,
    jobTimeoutMs: config.jobTimeoutMs,
    outcomeDeadlineMs: 30_000,
    signal: stopSignal,
    counted: reporting.counted,
    events: reporting.events,
    slot,
    jobStats: consumer.statsJob,
  });
  // The slot goes on; its delete leaves once the tally is committed (as in worker.ts).
  if (tail.deleting) {
    reporting.commitSoon(true);
    void tail.deleting.done;
  }
}

/** The least a job needs: its body parsed, its payload hashed, an outcome built and "stored". */
async function bareWork(job: ReservedJob): Promise<void> {
  const envelope = JSON.parse(job.body) as { id: string; type: string; payload: string };
  const hash = createHash('md5').update(JSON.stringify(envelope.payload), 'utf8').digest('hex');
  await later({ _id: envelope.id, type: envelope.type, result: { hash }, finishedAt: new Date() });
}

let gcMs = 0;
const gc = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
});
gc.observe({ entryTypes: ['gc'] });

async function measure(one: (job: ReservedJob, slot: number) => Promise<unknown>) {
  const storedBefore = stored;
  const gcBefore = gcMs;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await drive(jobs, one);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  await new Promise((resolve) => setTimeout(resolve, 20));
  if (one === workerPath && stored - storedBefore !== jobs) {
    throw new Error(
      `${jobs} jobs ran but ${stored - storedBefore} outcomes were stored: the figures would be wrong`,
    );
  }
  return {
    usPerJob: (cpu.user + cpu.system) / jobs,
    gcShare: (gcMs - gcBefore) / ((cpu.user + cpu.system) / 1000),
    rate: jobs / (wallMs / 1000),
  };
}

/** A node of V8's sampling heap profile (node's types omit the fields used here). */
interface SampledNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampledNode[];
}

/** Bytes allocated per job by `one` (sampled every 4 KB, garbage included), and the profile. */
async function allocatedPerJob(
  one: (job: ReservedJob, slot: number) => Promise<unknown>,
): Promise<{ bytes: number; head: SampledNode }> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await drive(jobs, one);
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  // Each sample carries its share of the bytes.
  const { samples, head } = profile as unknown as { samples?: { size: number }[]; head: SampledNode };
  if (!samples) throw new Error('the sampling heap profile came without its samples');
  const bytes = samples.reduce((sum, sample) => sum + sample.size, 0);
  return { bytes: bytes / jobs, head };
}

/** The functions that allocated most in a profile, by their own bytes per job: `name file:line`. */
function topSites(head: SampledNode, count: number): [string, number][] {
  const bySite = new Map<string, number>();
  const visit = (node: SampledNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const site = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '')}:${lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) visit(child);
  };
  visit(head);
  return [...bySite]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([site, bytes]) => [site, bytes / jobs]);
}

const say = (line: string) => process.stdout.write(`${line}\n`);
say(`a worker's own code per job, ${jobs} jobs a measure, ${slots} in flight, stand-in backends`);
// Warm up both paths, so that neither is measured while V8 still compiles it.
await measure(workerPath);
await measure(bareWork);
let lastProfile: SampledNode | undefined;
for (let round = 1; round <= rounds; round += 1) {
  const ours = await measure(workerPath);
  const bare = await measure(bareWork);
  const { bytes: oursBytes, head } = await allocatedPerJob(workerPath);
  const { bytes: bareBytes } = await allocatedPerJob(bareWork);
  lastProfile = head;
  say(
    `round ${round}: worker path ${fmt(ours.usPerJob, 1)} µs CPU/job (GC ${fmt(ours.gcShare * 100)} %, ${fmt(oursBytes / 1024, 1)} KB allocated, ${fmt(ours.rate)} jobs/s)` +
      `  vs bare work ${fmt(bare.usPerJob, 1)} µs (GC ${fmt(bare.gcShare * 100)} %, ${fmt(bareBytes / 1024, 1)} KB)  = ${fmt(ours.usPerJob / bare.usPerJob, 1)}×`,
  );
}
if (sites > 0 && lastProfile) {
  say(`where the worker path allocates (last round, own bytes per job):`);
  for (const [site, bytes] of topSites(lastProfile, sites)) say(`  ${fmt(bytes, 0).padStart(6)} B  ${site}`);
}
gc.disconnect();
await reporting.stop();
