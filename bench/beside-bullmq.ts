/**
 * Puts the BullMQ peer beside our figures: runs the peer's version of a measure right after
 * ours, in the same run, and adds its row to the table with the ratio ours ÷ BullMQ, then
 * the CPU each process spent per job and the peak RSS of both systems.
 */
import { BULLMQ_VERSION, BullmqPeer, type PeerRead } from './bullmq-peer.js';
import { measureCpu, type Processes } from './cpu.js';
import { type CpuUsed, countCpu, msPerJob, totalMsPerJob } from './cpu-per-job.js';
import { fmt } from './format.js';
import { type RedisFsync, redisVersion } from './redis-server.js';

/** One of our figures, as the peer's row quotes it. */
export interface OurFigure {
  /** The number the ratio divides: jobs/s or requests/s. */
  rate: number;
  /** The figure as our row shows it. */
  text: string;
  /** CPU seconds per process during the measure, and the jobs (or requests) done meanwhile. */
  used: CpuUsed;
  jobs: number;
}

type AddRow = (what: string, value: string, baseline: string, ratio: string, cpu: string) => void;

/**
 * Our end-to-end and drain figures as bench/end-to-end.ts reports them (that order): a
 * `measure` and an `add` to hand it, which pass everything on and keep each figure with the
 * CPU seconds per process it cost.
 */
export function captureEndToEnd(processes: () => Processes, jobs: number, add: AddRow) {
  const used: CpuUsed[] = [];
  const figures: OurFigure[] = [];
  return {
    figures,
    measure: () => {
      const share = measureCpu(processes);
      const seconds = countCpu(processes);
      return () => {
        used.push(seconds());
        return share();
      };
    },
    add: (what: string, value: string, baseline: string, ratio: string, cpu: string) => {
      add(what, value, baseline, ratio, cpu);
      const rate = Number(value.replaceAll(',', ''));
      figures.push({ rate, text: value, used: used[figures.length] ?? {}, jobs });
    },
  };
}

const ratio = (ours: number, peer: number) => `ours ÷ BullMQ ${fmt(ours / peer, 2)}×`;

export class BesideBullmq {
  /** The table's first column for the peer's rows. */
  readonly label: string;
  private readonly cpuRows: Array<{ what: string; ours: OurFigure; used: CpuUsed; jobs: number }> = [];

  private constructor(
    private readonly peer: BullmqPeer,
    private readonly add: AddRow,
    private readonly workers: string,
    fsync: RedisFsync,
  ) {
    this.label = `BullMQ ${BULLMQ_VERSION}, Redis ${redisVersion()}${fsync === 'none' ? '' : ` (AOF, fsync ${fsync})`}`;
  }

  /** Starts redis-server (installing it if missing); `add` gets the peer's rows. */
  static async start(
    root: string,
    workers: number,
    concurrency: number,
    fsync: RedisFsync,
    add: AddRow,
  ): Promise<BesideBullmq> {
    const peer = await BullmqPeer.start(root, workers, concurrency, fsync).catch((error: unknown) => {
      throw new Error('the BullMQ peer did not start (--no-peer runs the bench without it)', {
        cause: error,
      });
    });
    return new BesideBullmq(peer, add, `${workers} workers × ${concurrency}`, fsync);
  }

  async post(seconds: number, body: string, ours: OurFigure): Promise<void> {
    const run = await this.peer.post(seconds, body);
    this.add(
      'POST req/s (p50/p99 ms): Koa route calling queue.add',
      `${fmt(run.rps)} (${run.p50}/${run.p99})${run.non2xx ? `, ${run.non2xx} non-2xx` : ''}`,
      `ours ${ours.text}`,
      ratio(ours.rate, run.rps),
      run.cpu,
    );
    this.cpuRows.push({ what: 'POST', ours, used: run.used, jobs: run.rps * seconds });
  }

  /** The peer's version of one of our read rows (bench/read-rows.ts), after ours. */
  async read(kind: PeerRead, seconds: number, ours: OurFigure): Promise<void> {
    const run = await this.peer.read(kind, seconds);
    const what = {
      job: 'GET /jobs/:id req/s (p50/p99 ms), %s completed jobs kept, 1,000 different ones read in turn: Koa route calling queue.getJob + job.getState',
      page: 'GET /jobs?state=completed&limit=50 req/s (p50/p99 ms), %s completed jobs kept: Koa route calling queue.getJobs',
      counts: 'GET /stats req/s (p50/p99 ms), %s completed jobs kept: Koa route calling queue.getJobCounts',
    }[kind].replace('%s', fmt(run.stored));
    this.add(
      what,
      `${fmt(run.rps)} (${run.p50}/${run.p99})${run.non2xx ? `, ${run.non2xx} non-2xx` : ''}`,
      `ours ${ours.text}`,
      ratio(ours.rate, run.rps),
      run.cpu,
    );
    const cpuWhat = { job: 'GET /jobs/:id', page: 'GET /jobs?state=completed', counts: 'GET /stats' }[kind];
    this.cpuRows.push({ what: cpuWhat, ours, used: run.used, jobs: run.rps * seconds });
  }

  async batch(lines: string[], inFlight: number, ours: OurFigure): Promise<void> {
    const run = await this.peer.batch(lines, inFlight);
    this.add(
      `queue.addBulk jobs/s (1,000 per call, ${inFlight} in flight)`,
      fmt(run.rate),
      `ours ${ours.text}`,
      ratio(ours.rate, run.rate),
      run.cpu,
    );
    this.cpuRows.push({ what: 'batch enqueue', ours, used: run.used, jobs: lines.length });
  }

  async endToEnd(jobs: number, inFlight: number, ours: { e2e: OurFigure; drain: OurFigure }): Promise<void> {
    const { e2e, drain } = await this.peer.endToEnd(jobs, inFlight);
    this.add(
      `end to end jobs/s: ${fmt(jobs)} added with addBulk (1,000 per call, ${inFlight} in flight) while ${this.workers} drain`,
      fmt(e2e.rate),
      `ours ${ours.e2e.text}`,
      ratio(ours.e2e.rate, e2e.rate),
      e2e.cpu,
    );
    this.add(
      `drain only jobs/s: ${fmt(jobs)} added beforehand to the paused queue`,
      fmt(drain.rate),
      `ours ${ours.drain.text}`,
      ratio(ours.drain.rate, drain.rate),
      drain.cpu,
    );
    this.cpuRows.push({ what: 'end to end', ours: ours.e2e, used: e2e.used, jobs });
    this.cpuRows.push({ what: 'drain only', ours: ours.drain, used: drain.used, jobs });
  }

  async pickup(seconds: number, perSecond: number, ours: { p50: number; p99: number; text: string }) {
    const run = await this.peer.pickup(seconds, perSecond);
    this.add(
      `pickup latency ms at ${perSecond} jobs/s (${fmt(run.jobs)} jobs): queue.add called → handler start`,
      `p50 ${run.p50}, p99 ${run.p99}; queue.add answered in p50 ${run.addP50}, p99 ${run.addP99}`,
      `ours ${ours.text}`,
      `ours ÷ BullMQ p50 ${fmt(ours.p50 / run.p50, 1)}×, p99 ${fmt(ours.p99 / run.p99, 1)}×`,
      run.cpu,
    );
  }

  /** The CPU-per-job rows of every measure run, then both systems' peak RSS. */
  finish(oursRss: Record<string, number>): void {
    for (const row of this.cpuRows) {
      this.add(
        `CPU ms per job by process: ${row.what}`,
        msPerJob(row.used, row.jobs),
        `ours ${msPerJob(row.ours.used, row.ours.jobs)}`,
        ratio(totalMsPerJob(row.ours.used, row.ours.jobs), totalMsPerJob(row.used, row.jobs)),
        '',
      );
    }
    const rss = this.peer.peakRss();
    const list = (mb: Record<string, number>) =>
      Object.entries(mb)
        .filter(([, value]) => Number.isFinite(value))
        .map(([name, value]) => `${name} ${fmt(value)}`);
    const sum = (mb: Record<string, number>) =>
      Object.values(mb)
        .filter(Number.isFinite)
        .reduce((a, b) => a + b, 0);
    this.add(
      'peak RSS MB by process',
      `${list(rss).join(', ')} = ${fmt(sum(rss))}`,
      `ours ${list(oursRss).join(', ')} = ${fmt(sum(oursRss))}`,
      ratio(sum(oursRss), sum(rss)),
      '',
    );
  }

  async stop(): Promise<void> {
    await this.peer.stop();
  }
}
