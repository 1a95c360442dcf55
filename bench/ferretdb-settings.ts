/**
 * `npm run bench:ferretdb [-- --seconds N --rounds N --against BINARY]`: FerretDB's CPU per
 * document for what is most of its work in the bench's rows — records inserted, outcomes
 * inserted, outcomes read back by `_id` — and its peak RSS, on FerretDB started as src/local/servers.ts starts it
 * (ours) and with FerretDB's and Go's own defaults (the baseline: no `temp_store(memory)`,
 * transactions of 100 documents, GOGC 100; docs/facts.md, "An insert is cut into transactions
 * of 100" and "Go's collector"). Records go in as a manager writes them (`insertMany` of 500, two
 * in flight), outcomes as workers do (30 at a time, two in flight), N seconds each (default 6);
 * then 32 readers read random outcomes by `_id` for N seconds; then 32 small writers, each
 * looping `insertOne` of a record into one of four collections, for N seconds (what many
 * processes' small writes — records, segments, refs, outcomes, tallies — ask at once: the
 * writes that wait for SQLite's one writer, which our build commits together). Each run is on a fresh server and
 * data directory, alternating ROUNDS times (default 3). The CPU is FerretDB's own, from /proc.
 * Needs our FerretDB build (scripts/install-backends.sh).
 *
 * `--against BINARY` compares our build with another FerretDB binary instead, both run with our
 * settings: e.g. one built without a patch, to measure what the patch does (docs/performance-journal.md,
 * "SQLite compiled from C").
 */
import './no-orphans.js';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { ferretdbArgs, ferretdbBinary, ferretdbEnv, freePort, startProcess } from '../src/local/servers.js';
import { badArgs, benchArgs, wholeNumber } from './args.js';
import { cpuSeconds } from './cpu.js';
import { fmt } from './format.js';

const { values: flags } = benchArgs(import.meta.url, {
  seconds: { type: 'string' },
  rounds: { type: 'string' },
  against: { type: 'string' },
});
const seconds = wholeNumber(import.meta.url, 'seconds', flags.seconds, 6);
const rounds = wholeNumber(import.meta.url, 'rounds', flags.rounds, 3);
const say = (line: string) => process.stderr.write(`${line}\n`);

interface Settings {
  binary: string;
  args: (dataDir: string, port: number) => string[];
  env: () => NodeJS.ProcessEnv;
}
const ours: Settings = {
  binary: ferretdbBinary(),
  args: (dataDir, port) => ferretdbArgs(dataDir, port),
  env: () => ferretdbEnv(),
};
/** FerretDB's and Go's defaults: our command line without the settings it adds, and no GOGC. */
const defaults: Settings = {
  binary: ferretdbBinary(),
  args: (dataDir, port) =>
    ferretdbArgs(dataDir, port)
      .filter((arg) => !arg.startsWith('--test-batch-size='))
      .map((arg) => (arg.startsWith('--sqlite-url=') ? arg.slice(0, arg.indexOf('?')) : arg)),
  env: () => {
    const env = { ...process.env };
    delete env.GOGC;
    return env;
  },
};

const against = flags.against;
if (against !== undefined && !existsSync(against))
  badArgs(import.meta.url, `--against takes a FerretDB binary: ${against} not found`);
/** The baseline: FerretDB's defaults on our build, or `--against`'s binary with our settings. */
const baseline: Settings = against === undefined ? defaults : { ...ours, binary: against };
const baselineName = against === undefined ? 'FerretDB defaults' : basename(against);

const record = () => ({
  _id: randomUUID(),
  type: 'hash',
  payload: '{"n":12345,"text":"hello world"}',
  bytes: 32,
  options: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
  createdAt: new Date(),
});
const outcome = () => ({
  _id: randomUUID(),
  type: 'hash',
  outcome: 'completed',
  result: { algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' },
  worker: 'bench:1:1',
  attempt: 1,
  maxAttempts: 3,
  tally: { w: 'bench', k: 1 },
  payload: '{"n":12345,"text":"hello world"}',
  startedAt: new Date(),
  finishedAt: new Date(),
  durationMs: 0,
});

type Doc = { _id: string };
const collectionOf = (client: MongoClient, size: number) =>
  client.db('bench_ferretdb').collection<Doc>(`c${size}`);

/** µs of FerretDB's CPU per document while two loops insert `size` documents at a time; ids kept in `ids`. */
async function insert(client: MongoClient, pid: number, make: () => Doc, size: number, ids: string[]) {
  const collection = collectionOf(client, size);
  await collection.insertOne({ _id: randomUUID() });
  let documents = 0;
  const end = Date.now() + seconds * 1000;
  const before = cpuSeconds(pid);
  const loop = async () => {
    while (Date.now() < end) {
      const batch = Array.from({ length: size }, make);
      await collection.insertMany(batch, { ordered: false });
      documents += size;
      for (const doc of batch) ids.push(doc._id);
    }
  };
  await Promise.all([loop(), loop()]);
  return ((cpuSeconds(pid) - before) * 1e6) / documents;
}

/** µs of FerretDB's CPU per point read by `_id` of a random one of `ids` (in collection c30), 32 in flight. */
async function read(client: MongoClient, pid: number, ids: string[]): Promise<number> {
  const collection = collectionOf(client, 30);
  let reads = 0;
  const end = Date.now() + seconds * 1000;
  const before = cpuSeconds(pid);
  const loop = async () => {
    while (Date.now() < end) {
      const id = ids[Math.floor(Math.random() * ids.length)] ?? '';
      if ((await collection.findOne({ _id: id })) === null) throw new Error(`outcome ${id} not found`);
      reads++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, loop));
  return ((cpuSeconds(pid) - before) * 1e6) / reads;
}

/** Many small writers at once: 32 loops, each `insertOne` of a record into one of four collections. */
async function smallWrites(client: MongoClient, pid: number): Promise<{ cpu: number; rate: number }> {
  const collections = [1, 2, 3, 4].map((n) => collectionOf(client, n));
  for (const collection of collections) await collection.insertOne({ _id: randomUUID() });
  let writes = 0;
  const started = Date.now();
  const end = started + seconds * 1000;
  const before = cpuSeconds(pid);
  const loop = async (collection: (typeof collections)[number]) => {
    while (Date.now() < end) {
      await collection.insertOne(record());
      writes++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, () => collections.map(loop)).flat());
  const cpu = ((cpuSeconds(pid) - before) * 1e6) / writes;
  return { cpu, rate: writes / ((Date.now() - started) / 1000) };
}

/** The process's peak RSS in MB (VmHWM). */
function peakRssMb(pid: number): number {
  const found = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(found?.[1]) / 1024;
}

type Figures = {
  records: number;
  outcomes: number;
  reads: number;
  smallWrites: number;
  smallWriteRate: number;
  rss: number;
};

async function measure(settings: Settings): Promise<Figures> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'dw-mongo-'));
  const args = settings.args(dataDir, port);
  const server = await startProcess(
    'ferretdb',
    settings.binary,
    args,
    port,
    dataDir,
    false,
    false,
    settings.env(),
  );
  const client = new MongoClient(`mongodb://127.0.0.1:${port}`);
  try {
    const pid = server.process.pid ?? 0;
    const outcomes: string[] = [];
    const records = await insert(client, pid, record, 500, []);
    const outcomeCpu = await insert(client, pid, outcome, 30, outcomes);
    const reads = await read(client, pid, outcomes);
    const small = await smallWrites(client, pid);
    return {
      records,
      outcomes: outcomeCpu,
      reads,
      smallWrites: small.cpu,
      smallWriteRate: small.rate,
      rss: peakRssMb(pid),
    };
  } finally {
    await client.close();
    await server.stop();
  }
}

const runs: Record<'ours' | 'baseline', Figures[]> = { ours: [], baseline: [] };
for (let round = 1; round <= rounds; round++) {
  for (const [label, settings] of [
    ['baseline', baseline],
    ['ours', ours],
  ] as const) {
    const figures = await measure(settings);
    runs[label].push(figures);
    say(
      `round ${round} ${label}: ${fmt(figures.records)} µs a record, ${fmt(figures.outcomes)} µs an outcome, ${fmt(figures.reads)} µs a read, ${fmt(figures.smallWrites)} µs a small write (${fmt(figures.smallWriteRate)}/s), peak RSS ${fmt(figures.rss)} MB`,
    );
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
console.log(
  `\nFerretDB's CPU µs per document, the small writers' rate, and FerretDB's peak RSS; ${rounds} alternating runs of ${seconds} s each`,
);
console.log(
  `| measure | ${baselineName} (median) | ours (median) | ours ÷ baseline | every run (baseline; ours) |`,
);
console.log('| --- | --- | --- | --- | --- |');
for (const [name, key] of [
  ['µs a record, insertMany of 500', 'records'],
  ['µs an outcome, insertMany of 30', 'outcomes'],
  ['µs an outcome read by _id, 32 in flight', 'reads'],
  ['µs a small write, 32 writers each insertOne', 'smallWrites'],
  ['small writes a second, 32 writers', 'smallWriteRate'],
  ['peak RSS MB', 'rss'],
] as const) {
  const before = runs.baseline.map((run) => run[key]);
  const after = runs.ours.map((run) => run[key]);
  console.log(
    `| ${name} | ${fmt(median(before))} | ${fmt(median(after))} | ${fmt(median(after) / median(before), 2)}× | ${before.map((v) => fmt(v)).join(', ')}; ${after.map((v) => fmt(v)).join(', ')} |`,
  );
}
