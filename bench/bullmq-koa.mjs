// The REST wrapper a BullMQ user would write instead of our manager: a bare Koa route (as in
// bench/bare-koa.mjs) that reads and parses the body and calls `queue.add`, answering 202
// with the job's id; `GET /jobs/:id`, answering what our GET answers of a finished job
// (its state and result) with `queue.getJob` and `job.getState`; `GET /jobs?state=S&limit=N`,
// a page of the newest jobs in a state (their ids, states and results) with `queue.getJobs`;
// and `GET /stats`, the jobs counted by state with `queue.getJobCounts`.
// Run: node bench/bullmq-koa.mjs PORT REDIS_PORT QUEUE
import { createServer } from 'node:http';
import { Queue } from 'bullmq';
import Koa from 'koa';
import getRawBody from 'raw-body';

const [port, redisPort, name] = process.argv.slice(2);
const queue = new Queue(name, { connection: { host: '127.0.0.1', port: Number(redisPort) } });
const app = new Koa();
/** Requests whose handler still runs: the queue closes only once none does (SIGTERM below). */
let inHand = 0;
let allAnswered = () => {};
app.use(async (_ctx, next) => {
  inHand += 1;
  try {
    await next();
  } finally {
    inHand -= 1;
    if (inHand === 0) allAnswered();
  }
});
app.use(async (ctx) => {
  if (ctx.method === 'GET' && ctx.path === '/jobs') {
    const state = String(ctx.query.state ?? 'completed');
    const limit = Math.min(500, Math.max(1, Number(ctx.query.limit ?? 50)));
    const jobs = await queue.getJobs([state], 0, limit - 1);
    ctx.body = { jobs: jobs.map((job) => ({ id: job.id, state, result: job.returnvalue })) };
    return;
  }
  if (ctx.method === 'GET' && ctx.path === '/stats') {
    ctx.body = { counts: await queue.getJobCounts() };
    return;
  }
  if (ctx.method === 'GET' && ctx.path.startsWith('/jobs/')) {
    const job = await queue.getJob(ctx.path.slice('/jobs/'.length));
    if (!job) {
      ctx.status = 404;
      ctx.body = { error: { code: 'JOB_NOT_FOUND' } };
      return;
    }
    ctx.body = { id: job.id, state: await job.getState(), result: job.returnvalue };
    return;
  }
  if (ctx.method !== 'POST') return;
  const text = (await getRawBody(ctx.req, { limit: 65_535 })).toString('utf8');
  const job = await queue.add('hash', JSON.parse(text));
  ctx.status = 202;
  ctx.body = { id: job.id };
});
await queue.waitUntilReady();
const server = createServer(app.callback()).listen(Number(port), '127.0.0.1');
// Requests still in hand when the load stops (a page of getJobs takes tens of ms) finish before
// the queue's connection closes, instead of failing with "Connection is closed": the server's
// close alone does not wait for them once the load's clients have hung up.
process.once('SIGTERM', () => {
  server.close();
  server.closeIdleConnections();
  const answered = inHand === 0 ? Promise.resolve() : new Promise((resolve) => (allAnswered = resolve));
  answered
    .then(() => queue.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
