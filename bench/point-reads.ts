/**
 * `npm run bench:point-reads [-- --reads N --rounds N]`: the caller's CPU per point read by
 * `_id`, the driver's `findOne` (the baseline) against the store's reader
 * (src/store/driver/point-reads.ts: its own `find` command, and the reads asked in one turn sent
 * together as one `{_id: {$in: ids}}`), 32 reads in flight on one client, on the MongoDB-wire server
 * the tests use (FerretDB, or mongod on the PATH) holding 5,000 outcome-sized documents.
 * Alternates the two ROUNDS times (default 5) after a round of warm-up, N reads each (default
 * 20,000). The CPU is this process's own (user + system); the baseline sends one command a
 * read, the reader one for the reads that came together, so the server's share differs too.
 */
import './no-orphans.js';
import { MongoClient } from 'mongodb';
import { startMongoServer } from '../src/local/servers.js';
import { pointReader } from '../src/store/driver/point-reads.js';
import { benchArgs, wholeNumber } from './args.js';
import { fmt } from './format.js';

const { values: flags } = benchArgs(import.meta.url, {
  reads: { type: 'string' },
  rounds: { type: 'string' },
});
const reads = wholeNumber(import.meta.url, 'reads', flags.reads, 20_000);
const rounds = wholeNumber(import.meta.url, 'rounds', flags.rounds, 5);
const STORED = 5_000;
const IN_FLIGHT = 32;

const server = await startMongoServer();
const client = new MongoClient(server.url, { maxPoolSize: 20 });
try {
  await client.connect();
  const db = client.db('bench_point_reads');
  const results = db.collection<{ _id: string; hash: string; payload: string; finishedAt: Date }>('results');
  for (let i = 0; i < STORED; i += 500) {
    await results.insertMany(
      Array.from({ length: 500 }, (_, k) => ({
        _id: `job-${i + k}`,
        hash: 'f'.repeat(32),
        payload: JSON.stringify({ n: i + k, text: 'x'.repeat(100) }),
        finishedAt: new Date(),
      })),
    );
  }
  const ids = Array.from({ length: reads }, (_, i) => `job-${(i * 7919) % STORED}`);
  const ways: Record<string, (id: string) => Promise<unknown>> = {
    'findOne (baseline)': (id) => results.findOne({ _id: id }),
    'the store reader (ours)': pointReader(db, 'results'),
  };
  const figures = new Map<string, number[]>();
  // Round 0 warms both up (V8 compiles the hot paths) and is not counted.
  for (let round = 0; round <= rounds; round += 1) {
    for (const [name, read] of Object.entries(ways)) {
      let next = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < ids.length) {
            const id = ids[next] as string;
            next += 1;
            if ((await read(id)) === null) throw new Error(`${id} was stored but not found`);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const usPerRead = (cpu.user + cpu.system) / reads;
      if (round === 0) continue;
      figures.set(name, [...(figures.get(name) ?? []), usPerRead]);
      process.stdout.write(
        `round ${round} ${name.padEnd(20)} ${fmt(Math.round(reads / seconds))} reads/s, caller CPU ${usPerRead.toFixed(1)} µs a read\n`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const base = median(figures.get('findOne (baseline)') ?? []);
  const ours = median(figures.get('the store reader (ours)') ?? []);
  process.stdout.write(
    `median caller CPU per read: findOne ${base.toFixed(1)} µs, ours ${ours.toFixed(1)} µs (${(ours / base).toFixed(2)}×)\n`,
  );
} finally {
  await client.close();
  await server.stop();
}
