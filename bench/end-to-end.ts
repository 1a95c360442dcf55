/**
 * Measure 3 of the bench: end to end (jobs posted in batches while the workers drain them)
 * and the drain alone, each checked for exactly one outcome per job, against the transport
 * and store ceilings and the original system's loop measured right after.
 */
import type { QueueClient } from '../src/queue/index.js';
import { originalLoop, rawDrain, rawInsertMany, rawPuts } from './baselines.js';
import { countResults, postBatches, WARM_UP_SECONDS, warmUp } from './clients.js';
import { fmt } from './format.js';

export interface EndToEndContext {
  base: string;
  mongoUrl: string;
  beanstalkPort: number;
  /** A queue client for stats-tube and pause-tube. */
  admin: QueueClient;
  tube: string;
  jobs: number;
  originalJobs: number;
  /** Reserve connections of all workers together: the transport ceiling uses as many. */
  connections: number;
  /** How the workers are described in the table, e.g. "2 workers × 64". */
  workers: string;
  batchInFlight: number;
  startWorkers(): Promise<unknown>;
  /** Starts a CPU measurement; calling the result says each process's share since. */
  measure(): () => string;
  add(what: string, value: string, baseline: string, ratio: string, cpu: string): void;
}

export async function measureEndToEnd(ctx: EndToEndContext): Promise<void> {
  // 3a. End to end: the worker processes connected and warmed up (as many rounds of 2,000 jobs
  // posted and drained as fit in WARM_UP_SECONDS), then the jobs posted through
  // /jobs/batch (1,000 per request, batchInFlight at a time) while they drain; timed from the
  // first POST until beanstalkd holds no job (a worker deletes a job only after its
  // outcome is stored), then the outcomes counted.
  const drained = async (since: number) => {
    for (;;) {
      const tube = await ctx.admin.statsTube(ctx.tube);
      if (tube.currentJobsReady + tube.currentJobsReserved + tube.currentJobsDelayed === 0) return;
      if (performance.now() - since > 600_000) throw new Error('jobs still queued after 10 minutes');
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const checkOutcomes = async (before: number) => {
    const outcomes = (await countResults(ctx.mongoUrl, 'bench')) - before;
    if (outcomes !== ctx.jobs) throw new Error(`${outcomes} outcomes stored for ${ctx.jobs} jobs`);
  };
  const e2eLines = Array.from({ length: ctx.jobs }, (_, i) => JSON.stringify({ e2e: i }));
  await ctx.startWorkers();
  const warmLines = e2eLines.slice(0, 2000).map((line) => line.replace('e2e', 'warm'));
  await warmUp(WARM_UP_SECONDS, async () => {
    const since = performance.now();
    await postBatches(`${ctx.base}/jobs/batch`, warmLines, ctx.batchInFlight);
    await drained(since);
  });
  let before = await countResults(ctx.mongoUrl, 'bench');
  let cpu = ctx.measure();
  let t0 = performance.now();
  await postBatches(`${ctx.base}/jobs/batch`, e2eLines, ctx.batchInFlight);
  await drained(t0);
  const e2eRate = ctx.jobs / ((performance.now() - t0) / 1000);
  const e2eCpu = cpu();
  await checkOutcomes(before);

  // 3b. Drain only: the same number of jobs posted while the tube is paused, then resumed.
  await ctx.admin.pauseTube(ctx.tube, 3600);
  await postBatches(
    `${ctx.base}/jobs/batch`,
    e2eLines.map((line) => line.replace('e2e', 'drain')),
    ctx.batchInFlight,
  );
  before = await countResults(ctx.mongoUrl, 'bench');
  cpu = ctx.measure();
  t0 = performance.now();
  await ctx.admin.pauseTube(ctx.tube, 0);
  await drained(t0);
  const drainOnlyRate = ctx.jobs / ((performance.now() - t0) / 1000);
  const drainOnlyCpu = cpu();
  await checkOutcomes(before);

  // Ceilings: the transport (reserve+delete with the same connection count) and the store.
  const drainBodies = Array.from({ length: ctx.jobs }, (_, i) =>
    JSON.stringify({ id: `raw-${i}`, type: 'raw', maxAttempts: 3, payload: `{"n":${i}}` }),
  );
  await rawPuts(ctx.beanstalkPort, 'rawdrain', drainBodies, 1000);
  const drainRate = await rawDrain(ctx.beanstalkPort, 'rawdrain', drainBodies.length, ctx.connections);
  const insertRate = await rawInsertMany(
    ctx.mongoUrl,
    e2eLines.map((payload, i) => ({ _id: `e-${i}`, type: 'hash', payload, createdAt: new Date() })),
  );
  await rawPuts(ctx.beanstalkPort, 'original', drainBodies.slice(0, ctx.originalJobs), 100);
  const originalRate = await originalLoop(ctx.beanstalkPort, ctx.mongoUrl, 'original', ctx.originalJobs);
  const transport = `transport ${fmt(drainRate)} (reserve+delete, ${ctx.connections} conns)`;
  const ceiling = Math.min(drainRate, insertRate / 2);
  ctx.add(
    `end to end jobs/s: ${fmt(ctx.jobs)} posted in batches while ${ctx.workers} drain`,
    fmt(e2eRate),
    `${transport}, store ${fmt(insertRate / 2)} (insertMany ${fmt(insertRate)} docs/s ÷ 2 docs per job), original loop ${fmt(originalRate)}`,
    `${fmt(e2eRate / ceiling, 2)}× the tighter ceiling, ${fmt(e2eRate / originalRate, 1)}× the original`,
    e2eCpu,
  );
  const drainCeiling = Math.min(drainRate, insertRate);
  ctx.add(
    `drain only jobs/s: ${fmt(ctx.jobs)} queued beforehand (job records already stored)`,
    fmt(drainOnlyRate),
    `${transport}, store ${fmt(insertRate)} (insertMany, 1 outcome per job)`,
    `${fmt(drainOnlyRate / drainCeiling, 2)}× the tighter ceiling, ${fmt(drainOnlyRate / originalRate, 1)}× the original`,
    drainOnlyCpu,
  );
}
