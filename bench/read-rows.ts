/**
 * The bench's read rows, each under autocannon's load after the same warm-up, ours and then
 * BullMQ's beside it: finished jobs by id (1,000 different ones in turn, so that no answer is a
 * read shared by requests that came together), a page of the 50 newest completed jobs, and the
 * counts (`GET /stats` against `queue.getJobCounts`). The reads at growing history, one request
 * at a time, are bench/reads.ts.
 */
import type { BesideBullmq } from './beside-bullmq.js';
import type { PeerRead } from './bullmq-peer.js';
import { cannon, countResults, JOBS_READ, someResultIds, WARM_UP_SECONDS } from './clients.js';
import { measureCpu, type Processes } from './cpu.js';
import { countCpu } from './cpu-per-job.js';
import { fmt } from './format.js';

export interface ReadRowsContext {
  /** The manager's address. */
  base: string;
  mongo: { url: string; name: string };
  processes: Processes;
  add: (what: string, value: string, baseline?: string, ratio?: string, cpu?: string) => void;
  peer: BesideBullmq | undefined;
  seconds: number;
}

export async function measureReadRows(ctx: ReadRowsContext): Promise<void> {
  const jobIds = await someResultIds(ctx.mongo.url, JOBS_READ);
  if (jobIds.length === 0)
    throw new Error('no finished job to read: give get with a measure that runs jobs first (--only e2e,get)');
  const stored = fmt(await countResults(ctx.mongo.url, 'bench'));
  const reads: Array<{ kind: PeerRead; path: string; paths?: string[]; what: string; baseline: string }> = [
    {
      kind: 'job',
      path: '/jobs',
      paths: jobIds.map((id) => `/jobs/${id}`),
      what: `GET /jobs/:id req/s (p50/p99 ms), ${stored} jobs stored, ${fmt(jobIds.length)} different ones read in turn`,
      baseline: `${ctx.mongo.name}: reads by _id from its index`,
    },
    {
      kind: 'page',
      path: '/jobs?state=completed&limit=50',
      what: `GET /jobs?state=completed&limit=50 req/s (p50/p99 ms), ${stored} jobs stored`,
      baseline: 'the job log, then each job by _id',
    },
    {
      kind: 'counts',
      path: '/stats',
      what: `GET /stats req/s (p50/p99 ms), ${stored} jobs stored`,
      baseline: 'tallies, totals and beanstalkd stats',
    },
  ];
  for (const read of reads) {
    const url = `${ctx.base}${read.path}`;
    await cannon(url, 'GET', WARM_UP_SECONDS, undefined, read.paths);
    const share = measureCpu(() => ctx.processes);
    const used = countCpu(() => ctx.processes);
    const run = await cannon(url, 'GET', ctx.seconds, undefined, read.paths);
    const cpu = share();
    const text = `${fmt(run.rps)} (${run.p50}/${run.p99})`;
    ctx.add(read.what, `${text}${run.non2xx ? `, ${run.non2xx} non-2xx` : ''}`, read.baseline, '', cpu);
    await ctx.peer?.read(read.kind, ctx.seconds, {
      rate: run.rps,
      text,
      used: used(),
      jobs: run.rps * ctx.seconds,
    });
  }
}
