/**
 * `npm run bench:store-inserts [-- --seconds N --rounds N]`: FerretDB's CPU per document for
 * the two inserts that are most of its work in the write rows, on FerretDB started as
 * src/local/servers.ts starts it (ours) and with FerretDB's own defaults (the baseline: no
 * `temp_store(memory)`, transactions of 100 documents; docs/facts.md, "An insert is cut into
 * transactions of 100"). Records go in as a manager writes them (`insertMany` of 500, two in
 * flight), outcomes as workers do (30 at a time, two in flight), N seconds each (default 6),
 * each run on a fresh server and data directory, alternating ROUNDS times (default 3). The
 * CPU is FerretDB's own, read from /proc. Needs our FerretDB build (scripts/install-backends.sh).
 */
import './no-orphans.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { ferretdbArgs, ferretdbBinary, freePort, startProcess } from '../src/local/servers.js';
import { cpuSeconds } from './cpu.js';
import { fmt } from './format.js';

function numberArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} takes a whole number above 0`);
  return value;
}
const seconds = numberArg('--seconds', 6);
const rounds = numberArg('--rounds', 3);
const say = (line: string) => process.stderr.write(`${line}\n`);

/** FerretDB's defaults: our command line without the two settings it adds. */
function defaultArgs(dataDir: string, port: number): string[] {
  return ferretdbArgs(dataDir, port)
    .filter((arg) => !arg.startsWith('--test-batch-size='))
    .map((arg) => (arg.startsWith('--sqlite-url=') ? arg.slice(0, arg.indexOf('?')) : arg));
}

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

/** µs of FerretDB's CPU per document while two loops insert `size` documents at a time. */
async function load(url: string, pid: number, make: () => object, size: number): Promise<number> {
  const client = new MongoClient(url);
  try {
    const collection = client.db('bench_store_inserts').collection(`c${size}`);
    await collection.insertOne({ _id: randomUUID() } as never);
    let documents = 0;
    const end = Date.now() + seconds * 1000;
    const before = cpuSeconds(pid);
    const loop = async () => {
      while (Date.now() < end) {
        await collection.insertMany(Array.from({ length: size }, make) as never[], { ordered: false });
        documents += size;
      }
    };
    await Promise.all([loop(), loop()]);
    return ((cpuSeconds(pid) - before) * 1e6) / documents;
  } finally {
    await client.close();
  }
}

async function measure(args: (dataDir: string, port: number) => string[]): Promise<Figures> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'dw-mongo-'));
  const server = await startProcess('ferretdb', ferretdbBinary(), args(dataDir, port), port, dataDir, false);
  try {
    const url = `mongodb://127.0.0.1:${port}`;
    const pid = server.process.pid ?? 0;
    return { records: await load(url, pid, record, 500), outcomes: await load(url, pid, outcome, 30) };
  } finally {
    await server.stop();
  }
}

type Figures = { records: number; outcomes: number };
const runs: Record<'ours' | 'defaults', Figures[]> = { ours: [], defaults: [] };
for (let round = 1; round <= rounds; round++) {
  for (const [label, args] of [
    ['defaults', defaultArgs],
    ['ours', ferretdbArgs],
  ] as const) {
    const figures = await measure(args);
    runs[label].push(figures);
    say(
      `round ${round} ${label}: ${fmt(figures.records)} µs a record, ${fmt(figures.outcomes)} µs an outcome`,
    );
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
console.log(`\nFerretDB's CPU µs per document inserted, ${rounds} alternating runs of ${seconds} s each`);
console.log(
  '| insert | FerretDB defaults (median) | ours (median) | ours ÷ defaults | every run (defaults; ours) |',
);
console.log('| --- | --- | --- | --- | --- |');
for (const [name, key] of [
  ['record, insertMany of 500', 'records'],
  ['outcome, insertMany of 30', 'outcomes'],
] as const) {
  const before = runs.defaults.map((run) => run[key]);
  const after = runs.ours.map((run) => run[key]);
  console.log(
    `| ${name} | ${fmt(median(before))} | ${fmt(median(after))} | ${fmt(median(after) / median(before), 2)}× | ${before.map((v) => fmt(v)).join(', ')}; ${after.map((v) => fmt(v)).join(', ')} |`,
  );
}
