// The BullMQ peer's worker process: one BullMQ Worker whose handler returns the md5 of the
// job's JSON data and the time it began (BullMQ keeps the returned value with the completed
// job, as our workers store an outcome). A separate process so that the bench can read its CPU.
// Run: node bench/bullmq-worker.mjs REDIS_PORT QUEUE CONCURRENCY
import { createHash } from 'node:crypto';
import { Worker } from 'bullmq';

const [port, queue, concurrency] = process.argv.slice(2);
const worker = new Worker(
  queue,
  async (job) => {
    const startedAt = Date.now();
    return { hash: createHash('md5').update(JSON.stringify(job.data)).digest('hex'), startedAt };
  },
  { connection: { host: '127.0.0.1', port: Number(port) }, concurrency: Number(concurrency) },
);
worker.on('error', (error) => process.stderr.write(`bullmq-worker: ${error.message}\n`));
process.once('SIGTERM', () => {
  worker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
