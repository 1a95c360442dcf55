/**
 * The bench's peer: BullMQ on its own redis-server, measured in the same run and on the same
 * machine as our figures. Its workers and its REST wrapper are separate Node processes
 * (bench/bullmq-worker.mjs, bench/bullmq-koa.mjs) so that each one's CPU can be read; the
 * producer of the enqueue, end-to-end and pickup measures is the bench process itself.
 *
 * Settings are BullMQ's defaults except those named: completed jobs are kept with their
 * returned value (the default, and the counterpart of our stored outcome), workers run with
 * concurrency 50, jobs go in with `addBulk` 1,000 per call.
 */
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { freePort, type LocalServer, waitForPort } from '../src/local/servers.js';
import {
  cannon,
  JOBS_READ,
  peakRssMb,
  sendSteadily,
  spawnNode,
  stop,
  WARM_UP_SECONDS,
  warmUp,
} from './clients.js';
import { measureCpu, type Processes } from './cpu.js';
import { type CpuUsed, countCpu, restShare } from './cpu-per-job.js';
import { pct } from './format.js';
import { installRedis, type RedisFsync, startRedis } from './redis-server.js';

const require = createRequire(import.meta.url);
export const BULLMQ_VERSION = (require('bullmq/package.json') as { version: string }).version;

/** What one measure of the peer gives: CPU as shares of a core and as seconds per process. */
export interface PeerCpu {
  cpu: string;
  used: CpuUsed;
}

const JOB_NAME = 'hash';

/** What the peer's reads read: one completed job, a page of 50 completed ones, the counts. */
export type PeerRead = 'job' | 'page' | 'counts';

export class BullmqPeer {
  readonly processes: Processes = { bench: process.pid };
  /** Peak RSS in MB of the processes measured so far (read before each one stops). */
  readonly rssMb: Record<string, number> = {};
  private readonly queues = new Map<string, Queue>();
  private workers: ChildProcess[] = [];

  private constructor(
    private readonly redis: LocalServer,
    private readonly root: string,
    private readonly workerCount: number,
    private readonly concurrency: number,
  ) {
    this.processes['redis-server'] = redis.process.pid;
  }

  /** Installs redis-server if missing and starts it. */
  static async start(
    root: string,
    workerCount: number,
    concurrency: number,
    fsync: RedisFsync = 'none',
  ): Promise<BullmqPeer> {
    installRedis();
    return new BullmqPeer(await startRedis(fsync), root, workerCount, concurrency);
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: { host: '127.0.0.1', port: this.redis.port } });
      this.queues.set(name, queue);
    }
    return queue;
  }

  private measure(): () => PeerCpu {
    const cpu = measureCpu(() => this.processes);
    const used = countCpu(() => this.processes);
    const t0 = performance.now();
    return () => {
      const seconds = used();
      return { cpu: `${cpu()}, ${restShare(seconds, (performance.now() - t0) / 1000)}`, used: seconds };
    };
  }

  /**
   * autocannon's load on the Koa wrapper (bench/bullmq-koa.mjs) over `queue`, after the same
   * warm-up ours gets; the wrapper's peak RSS is kept under `bull-koa`.
   */
  private async underCannon(
    queue: string,
    path: string,
    method: 'GET' | 'POST',
    seconds: number,
    body?: string,
    paths?: readonly string[],
  ) {
    const port = await freePort();
    const koa = spawnNode(
      [join(this.root, 'bench', 'bullmq-koa.mjs'), String(port), String(this.redis.port), queue],
      {},
    );
    this.processes['bull-koa'] = koa.pid;
    try {
      await waitForPort(port, 10_000, koa);
      const url = `http://127.0.0.1:${port}${path}`;
      await cannon(url, method, WARM_UP_SECONDS, body, paths);
      const done = this.measure();
      const run = await cannon(url, method, seconds, body, paths);
      const cpu = done();
      this.rssMb['bull-koa'] = Math.max(this.rssMb['bull-koa'] ?? 0, peakRssMb(koa.pid));
      return { ...run, ...cpu };
    } finally {
      await stop(koa);
      delete this.processes['bull-koa'];
    }
  }

  /** POST of one small JSON body under autocannon's load to a Koa route calling `queue.add`. */
  post(seconds: number, body: string) {
    return this.underCannon('post', '/', 'POST', seconds, body);
  }

  /**
   * A read under autocannon's load through the Koa wrapper, with every job completed so far
   * kept: completed jobs by id, 1,000 different ones in turn (`queue.getJob` + `job.getState`), a page of the 50 newest
   * completed (`queue.getJobs`) or the counts by state (`queue.getJobCounts`). Runs 1,000 jobs
   * first if none has completed yet (`--only get`).
   */
  async read(kind: PeerRead, seconds: number) {
    const queue = this.queue(JOB_NAME);
    if ((await queue.getCompletedCount()) === 0) {
      await this.startWorkers(queue);
      await addBulk(
        queue,
        Array.from({ length: 1000 }, (_, i) => JSON.stringify({ get: i })),
        1,
      );
      await this.completed(queue, 0, 1000);
    }
    const jobs = await queue.getCompleted(0, JOBS_READ - 1);
    const paths = jobs.flatMap((job) => (job.id ? [`/jobs/${job.id}`] : []));
    if (paths.length === 0) throw new Error('no completed BullMQ job to read');
    const stored = await queue.getCompletedCount();
    // As ours: different completed jobs in turn.
    if (kind === 'job')
      return { stored, ...(await this.underCannon(JOB_NAME, '/jobs', 'GET', seconds, undefined, paths)) };
    const path = kind === 'page' ? '/jobs?state=completed&limit=50' : '/stats';
    return { stored, ...(await this.underCannon(JOB_NAME, path, 'GET', seconds)) };
  }

  /** `addBulk` of `lines` (JSON) 1,000 per call, `inFlight` calls at a time, to a queue no worker reads. */
  async batch(lines: string[], inFlight: number) {
    const queue = this.queue('batch');
    await queue.waitUntilReady();
    const warmLines = lines.slice(0, 2000);
    await warmUp(WARM_UP_SECONDS, () => addBulk(queue, warmLines, inFlight));
    const done = this.measure();
    const t0 = performance.now();
    await addBulk(queue, lines, inFlight);
    const rate = lines.length / ((performance.now() - t0) / 1000);
    return { rate, ...done() };
  }

  /** Starts the worker processes on queue `hash` and waits until each has connected. */
  private async startWorkers(queue: Queue): Promise<void> {
    if (this.workers.length > 0) return;
    this.workers = Array.from({ length: this.workerCount }, (_, i) => {
      const worker = spawnNode(
        [
          join(this.root, 'bench', 'bullmq-worker.mjs'),
          String(this.redis.port),
          JOB_NAME,
          String(this.concurrency),
        ],
        {},
      );
      this.processes[`bull-worker${i}`] = worker.pid;
      return worker;
    });
    for (const deadline = Date.now() + 30_000; ; ) {
      if ((await queue.getWorkersCount()) >= this.workerCount) return;
      if (Date.now() > deadline) throw new Error('the BullMQ workers did not connect within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits until `count` more jobs than `before` are completed; throws on a failed job. */
  private async completed(queue: Queue, before: number, count: number): Promise<void> {
    for (const deadline = performance.now() + 600_000; ; ) {
      const [completed, failed] = await Promise.all([queue.getCompletedCount(), queue.getFailedCount()]);
      if (failed > 0) throw new Error(`${failed} BullMQ jobs failed`);
      if (completed - before === count) return;
      if (completed - before > count) throw new Error(`${completed - before} completed for ${count} jobs`);
      if (performance.now() > deadline) throw new Error('BullMQ jobs still waiting after 10 minutes');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * End to end (jobs added with `addBulk` while the workers drain, first add → last completed),
   * then the drain alone (the same number added to the paused queue, timed from its resume).
   */
  async endToEnd(jobs: number, inFlight: number) {
    const queue = this.queue(JOB_NAME);
    await this.startWorkers(queue);
    const lines = Array.from({ length: jobs }, (_, i) => JSON.stringify({ e2e: i }));
    const warmLines = lines.slice(0, 2000).map((line) => line.replace('e2e', 'warm'));
    await warmUp(WARM_UP_SECONDS, async () => {
      const warmBefore = await queue.getCompletedCount();
      await addBulk(queue, warmLines, inFlight);
      await this.completed(queue, warmBefore, warmLines.length);
    });
    let before = await queue.getCompletedCount();
    let done = this.measure();
    let t0 = performance.now();
    await addBulk(queue, lines, inFlight);
    await this.completed(queue, before, jobs);
    const e2e = { rate: jobs / ((performance.now() - t0) / 1000), ...done() };

    await queue.pause();
    await addBulk(
      queue,
      lines.map((line) => line.replace('e2e', 'drain')),
      inFlight,
    );
    before = await queue.getCompletedCount();
    done = this.measure();
    t0 = performance.now();
    await queue.resume();
    await this.completed(queue, before, jobs);
    const drain = { rate: jobs / ((performance.now() - t0) / 1000), ...done() };
    return { e2e, drain };
  }

  /** Pickup at a steady `perSecond` on idle workers: `queue.add` called → handler start. */
  async pickup(seconds: number, perSecond: number) {
    const queue = this.queue(JOB_NAME);
    await this.startWorkers(queue);
    const warmBefore = await queue.getCompletedCount();
    const warm = await sendSteadily(perSecond, WARM_UP_SECONDS, async (i) =>
      String((await queue.add(JOB_NAME, { warm: i })).id),
    );
    await this.completed(queue, warmBefore, warm.sent.size);
    const before = await queue.getCompletedCount();
    const done = this.measure();
    const { sent, answered } = await sendSteadily(perSecond, seconds, async (i) =>
      String((await queue.add(JOB_NAME, { steady: i })).id),
    );
    const cpu = done();
    await this.completed(queue, before, sent.size);
    const pickups: number[] = [];
    for (const [id, at] of sent) {
      const job = await queue.getJob(id);
      const startedAt = (job?.returnvalue as { startedAt?: number } | undefined)?.startedAt;
      if (startedAt === undefined) throw new Error(`BullMQ job ${id} has no start time`);
      pickups.push(startedAt - at);
    }
    pickups.sort((a, b) => a - b);
    return {
      jobs: sent.size,
      p50: pct(pickups, 50),
      p99: pct(pickups, 99),
      addP50: pct(answered, 50),
      addP99: pct(answered, 99),
      ...cpu,
    };
  }

  /** Peak RSS of the workers and redis-server (now), and of the Koa wrapper (when it ran). */
  peakRss(): Record<string, number> {
    this.workers.forEach((worker, i) => {
      this.rssMb[`bull-worker${i}`] = peakRssMb(worker.pid);
    });
    this.rssMb['redis-server'] = peakRssMb(this.redis.process.pid);
    return this.rssMb;
  }

  async stop(): Promise<void> {
    for (const queue of this.queues.values()) await queue.close().catch(() => undefined);
    for (const worker of this.workers) await stop(worker);
    await this.redis.stop();
  }
}

/** `addBulk` 1,000 jobs per call, `inFlight` calls at a time. */
async function addBulk(queue: Queue, lines: string[], inFlight: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next; i < lines.length; i = next) {
        next += 1000;
        await queue.addBulk(
          lines.slice(i, i + 1000).map((line) => ({ name: JOB_NAME, data: JSON.parse(line) as unknown })),
        );
      }
    }),
  );
}
