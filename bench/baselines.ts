/**
 * The ceilings each figure is compared with, measured in the same run: raw pipelined puts,
 * raw reserve + delete, raw insertMany, and the original system's worker loop.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { JackdClient } from 'jackd';
import { MongoClient } from 'mongodb';

const require = createRequire(import.meta.url);
const Jackd = require('jackd') as typeof JackdClient;

async function jackd(port: number): Promise<JackdClient> {
  const client = new Jackd();
  client.socket.on('error', () => undefined);
  await client.connect({ host: '127.0.0.1', port });
  return client;
}

/** Raw pipelined puts with `window` in flight on one connection. */
export async function rawPuts(port: number, tube: string, bodies: string[], window: number): Promise<number> {
  const client = await jackd(port);
  await client.use(tube);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        await client.put(body, { priority: 1024, delay: 0, ttr: 60 });
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await client.quit();
  client.socket.destroy();
  return bodies.length / seconds;
}

/** Raw reserve + delete with `connections` connections until `count` jobs are gone. */
export async function rawDrain(
  port: number,
  tube: string,
  count: number,
  connections: number,
): Promise<number> {
  let left = count;
  let deleted = 0;
  let lastDeleteAt = 0;
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = await jackd(port);
      await client.watch(tube);
      await client.ignore('default');
      return client;
    }),
  );
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (left > 0) {
        const job = await client.reserveWithTimeout(1).catch(() => null);
        if (!job) continue;
        left -= 1;
        await client.delete(job.id);
        deleted += 1;
        // Timed to the last delete: the other connections then wait out their reserve timeout.
        if (deleted === count) lastDeleteAt = performance.now();
      }
      client.socket.destroy();
    }),
  );
  return count / ((lastDeleteAt - t0) / 1000);
}

export async function rawInsertMany(url: string, docs: Array<Record<string, unknown>>): Promise<number> {
  const client = new MongoClient(url);
  const collection = client.db('bench_raw').collection(`raw${Date.now()}`);
  const t0 = performance.now();
  for (let i = 0; i < docs.length; i += 1000)
    await collection.insertMany(docs.slice(i, i + 1000), { ordered: false });
  const rate = docs.length / ((performance.now() - t0) / 1000);
  await client.db('bench_raw').dropDatabase();
  await client.close();
  return rate;
}

/** The original system's loop without its sleep: reserve → md5 → insertOne → delete, 3 at once. */
export async function originalLoop(
  port: number,
  mongoUrl: string,
  tube: string,
  count: number,
): Promise<number> {
  const client = new MongoClient(mongoUrl);
  const collection = client.db('bench_original').collection('results');
  let left = count;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      const bean = await jackd(port);
      await bean.watch(tube);
      await bean.ignore('default');
      while (left > 0) {
        const job = await bean.reserveWithTimeout(1).catch(() => null);
        if (!job) continue;
        left -= 1;
        const body = job.payload.toString();
        await collection.insertOne({ job: body, hash: createHash('md5').update(body).digest('hex') });
        await bean.delete(job.id);
      }
      bean.socket.destroy();
    }),
  );
  const rate = count / ((performance.now() - t0) / 1000);
  await client.db('bench_original').dropDatabase();
  await client.close();
  return rate;
}
