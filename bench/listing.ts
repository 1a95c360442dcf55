/**
 * `npx tsx bench/listing.ts`: GET /jobs at 10,000 jobs on FerretDB — the time of a first page,
 * of a page deep in the list, of a state-filtered page, and of walking every page.
 */
import { pino } from 'pino';
import request from 'supertest';
import { installBackends, startBeanstalkd, startMongoServer } from '../src/local/servers.js';
import { createApp } from '../src/manager/app.js';
import { createQueueClient } from '../src/queue/index.js';
import { createStore } from '../src/store/index.js';

const JOBS = 10_000;

async function main(): Promise<void> {
  installBackends();
  const beanstalkd = await startBeanstalkd();
  const mongo = await startMongoServer();
  const queue = createQueueClient({
    host: '127.0.0.1',
    port: beanstalkd.port,
    connectTimeoutMs: 1000,
    commandTimeoutMs: 5000,
  });
  const store = createStore({ url: mongo.url, dbName: 'listing', timeoutMs: 30_000, insertRetryMs: 5000 });
  try {
    await store.ensureIndexes();
    const app = createApp({
      queue,
      store,
      log: pino({ level: 'silent' }),
      tubePrefix: '',
      maxJsonDepth: 64,
      defaultOptions: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
      maxJobSize: () => 65_535,
      idempotencyTtlMs: 60_000,
    }).callback();
    for (let i = 0; i < JOBS; i += 1000) {
      const lines = Array.from({ length: 1000 }, (_, k) => JSON.stringify({ n: i + k }));
      await request(app)
        .post('/jobs/batch')
        .set('Content-Type', 'application/x-ndjson')
        .send(lines.join('\n'));
    }
    const time = async (what: string, path: string) => {
      const t0 = performance.now();
      const res = await request(app).get(path);
      const ms = performance.now() - t0;
      process.stdout.write(`${what}: ${Math.round(ms)} ms (${res.body.jobs.length} jobs)\n`);
      return res.body as { jobs: Array<{ id: string }>; nextCursor: string | null };
    };
    const first = await time('first page, limit 50', '/jobs?limit=50');
    const deep = await time('page after a cursor, limit 50', `/jobs?limit=50&cursor=${first.nextCursor}`);
    await time('state=queued, limit 50', '/jobs?state=queued&limit=50');
    await time('state=completed (none), limit 50', '/jobs?state=completed&limit=50');
    const t0 = performance.now();
    let cursor: string | null = deep.nextCursor;
    let seen = first.jobs.length + deep.jobs.length;
    while (cursor) {
      const res = await request(app).get(`/jobs?limit=500&cursor=${cursor}`);
      seen += res.body.jobs.length;
      cursor = res.body.nextCursor;
    }
    process.stdout.write(`walk of all ${seen} jobs by 500: ${Math.round(performance.now() - t0)} ms\n`);
  } finally {
    await queue.close();
    await store.close();
    await mongo.stop();
    await beanstalkd.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
