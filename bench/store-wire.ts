/**
 * `npm run bench:store-wire [-- --docs N --rounds N --in-flight N]`: what one command to the store costs its
 * caller, three ways, on the MongoDB-wire server the tests use (FerretDB, or mongod on the PATH):
 * the driver's own call (`insertMany`, `findOne`), the same command through `db.command`, and the
 * same OP_MSG written on a plain socket and its answer decoded (the floor: no pool, no session,
 * no server selection, no monitoring; possible here only because the local server has no
 * authentication and no TLS). For an insert of 1 and of 27 outcome-sized documents (27: what a
 * worker's outcome insert carries in the drain) and a point read by `_id`. IN-FLIGHT commands
 * at once (default 2, as the store's insert batcher keeps them; the bench's GET row keeps 32
 * reads in flight), each on a connection of its own for the plain socket; N documents per way
 * and round (default 16,200), ROUNDS rounds after one of warm-up (default 3), the ways
 * alternating. The CPU is this
 * process's own (user + system), per command.
 */
import './no-orphans.js';
import { connect, type Socket } from 'node:net';
import { BSON, type Document, MongoClient } from 'mongodb';
import { startMongoServer } from '../src/local/servers.js';
import { benchArgs, wholeNumber } from './args.js';

const { values: flags } = benchArgs(import.meta.url, {
  docs: { type: 'string' },
  rounds: { type: 'string' },
  'in-flight': { type: 'string' },
});
const docsPerRound = wholeNumber(import.meta.url, 'docs', flags.docs, 16_200);
const rounds = wholeNumber(import.meta.url, 'rounds', flags.rounds, 3);
const IN_FLIGHT = wholeNumber(import.meta.url, 'in-flight', flags['in-flight'], 2);
const DB = 'bench_store_wire';
const OP_MSG = 2013;

/** One connection speaking OP_MSG itself, its answers taken in order (no pipelining beyond that). */
async function rawConnection(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.setNoDelay(true);
  const waiting: Array<(reply: Document) => void> = [];
  let buffered: Buffer = Buffer.alloc(0);
  let requestId = 1;
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= buffered.readInt32LE(0)) {
      const length = buffered.readInt32LE(0);
      // header (16) + flag bits (4) + section kind (1), then the body document
      const reply = BSON.deserialize(buffered.subarray(21, length));
      buffered = buffered.subarray(length);
      waiting.shift()?.(reply);
    }
  });
  return {
    command(command: Document): Promise<Document> {
      const body = BSON.serialize({ ...command, $db: DB });
      const header = Buffer.alloc(21);
      header.writeInt32LE(21 + body.length, 0);
      header.writeInt32LE(requestId++, 4);
      header.writeInt32LE(0, 8);
      header.writeInt32LE(OP_MSG, 12);
      return new Promise((resolve, reject) => {
        waiting.push((reply) => (reply.ok === 1 ? resolve(reply) : reject(new Error(String(reply.errmsg)))));
        socket.write(Buffer.concat([header, body]));
      });
    },
    close: () => socket.destroy(),
  };
}

let seq = 0;
const outcome = () => ({
  _id: `0193a7f2-${(seq++).toString(16).padStart(12, '0')}`,
  state: 'completed',
  result: { hash: 'd41d8cd98f00b204e9800998ecf8427e', algorithm: 'md5' },
  worker: 'bench-worker:1',
  attempts: 1,
  type: 'hash',
  startedAt: new Date(),
  endedAt: new Date(),
  durationMs: 3,
});

const server = await startMongoServer();
const port = Number(new URL(server.url).port);
const client = new MongoClient(server.url, { maxPoolSize: Math.max(20, IN_FLIGHT), retryWrites: false });
const raws = await Promise.all(Array.from({ length: IN_FLIGHT }, () => rawConnection(port)));
try {
  await client.connect();
  const db = client.db(DB);
  const results = db.collection<ReturnType<typeof outcome>>('results');
  await results.insertMany(Array.from({ length: 1000 }, outcome));
  const readIds = Array.from({ length: 1000 }, (_, i) => `0193a7f2-${i.toString(16).padStart(12, '0')}`);
  let readAt = 0;
  const nextId = () => readIds[readAt++ % readIds.length] as string;
  type Way = (lane: number) => Promise<unknown>;
  const insertWays = (size: number): Record<string, Way> => ({
    'driver: insertMany': () => results.insertMany(Array.from({ length: size }, outcome), { ordered: false }),
    'db.command insert': () =>
      db.command({ insert: 'results', documents: Array.from({ length: size }, outcome), ordered: false }),
    'own OP_MSG insert': (lane) =>
      (raws[lane] ?? raws[0])?.command({
        insert: 'results',
        documents: Array.from({ length: size }, outcome),
        ordered: false,
      }) as Promise<Document>,
  });
  const groups: Array<{ title: string; perCommand: number; ways: Record<string, Way> }> = [
    { title: 'insert of 1 document', perCommand: 1, ways: insertWays(1) },
    { title: 'insert of 27 documents', perCommand: 27, ways: insertWays(27) },
    {
      title: 'point read by _id',
      perCommand: 1,
      ways: {
        'driver: findOne': () => results.findOne({ _id: nextId() }),
        'db.command find': () =>
          db.command({ find: 'results', filter: { _id: nextId() }, limit: 1, singleBatch: true }),
        'own OP_MSG find': (lane) =>
          (raws[lane] ?? raws[0])?.command({
            find: 'results',
            filter: { _id: nextId() },
            limit: 1,
            singleBatch: true,
          }) as Promise<Document>,
      },
    },
  ];
  for (const group of groups) {
    const commands = Math.max(IN_FLIGHT, Math.round(docsPerRound / group.perCommand));
    const figures = new Map<string, number[]>();
    for (let round = 0; round <= rounds; round += 1) {
      for (const [name, way] of Object.entries(group.ways)) {
        let next = 0;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: IN_FLIGHT }, async (_, lane) => {
            while (next < commands) {
              next += 1;
              await way(lane);
            }
          }),
        );
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        // Round 0 warms every way up (V8 compiles the hot paths) and is not counted.
        if (round === 0) continue;
        const usPerCommand = (cpu.user + cpu.system) / commands;
        figures.set(name, [...(figures.get(name) ?? []), usPerCommand]);
        process.stdout.write(
          `${group.title}, round ${round}: ${name.padEnd(20)} ${Math.round(commands / seconds)} commands/s, caller CPU ${usPerCommand.toFixed(0)} µs a command\n`,
        );
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const summary = [...figures].map(([name, xs]) => `${name} ${median(xs).toFixed(0)}`).join(', ');
    process.stdout.write(`${group.title}: median caller CPU µs a command: ${summary}\n\n`);
  }
} finally {
  for (const raw of raws) raw.close();
  await client.close();
  await server.stop();
}
