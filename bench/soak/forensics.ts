/**
 * What the soak knows about a job that failed the check, printed with the violation: a CI run
 * shows only the soak's output, and "has no outcome" alone does not say whether the job never
 * reached beanstalkd, sat there, or ran and lost its outcome. Read straight from the servers
 * (the record, its queue ref, its log segment, its copy in beanstalkd) and from every process's
 * log (the lines that name it).
 */
import type { MongoClient } from 'mongodb';
import { beanstalkRaw } from '../../test/support/harness.js';
import type { Cluster } from './cluster.js';

/** Lines of one job's story: at most this many log lines each. */
const LOG_LINES_PER_JOB = 30;

interface QueueRef {
  server?: string;
  beanstalkId?: string;
  tube?: string;
  putAt?: Date;
}

/** beanstalkd's view of a beanstalkd id: its state and whether its body names the job. */
async function copyAt(port: number, beanstalkId: string, jobId: string): Promise<string> {
  try {
    const stats = await beanstalkRaw(port, `stats-job ${beanstalkId}`);
    if (!stats.body) return `beanstalkd id ${beanstalkId}: ${stats.reply}`;
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(stats.body ?? '')?.[1];
    const peek = await beanstalkRaw(port, `peek ${beanstalkId}`);
    const names = peek.body?.includes(jobId) ? 'its body names the job' : 'its body names another job';
    return `beanstalkd id ${beanstalkId}: ${field('state')} in ${field('tube')}, reserves ${field('reserves')}, releases ${field('releases')}, ${names}`;
  } catch (error: unknown) {
    return `beanstalkd id ${beanstalkId}: no answer (${String(error)})`;
  }
}

/** Where the job stands in MongoDB and beanstalkd, and what the processes logged about it. */
export async function explainJobs(cluster: Cluster, client: MongoClient, ids: readonly string[]) {
  const db = client.db(cluster.dbName);
  const logLines = await cluster.linesNaming(ids);
  const segments = await db
    .collection<{ _id: string; jobs: string; settled?: string }>('job_log')
    .find({ _id: { $ne: 'meta' } })
    .toArray()
    .catch(() => []);
  const stories: string[] = [];
  for (const id of ids) {
    const lines = [`job ${id}:`];
    const record = await db
      .collection<{ _id: string; createdAt?: Date; queue?: QueueRef }>('jobs')
      .findOne({ _id: id }, { projection: { createdAt: 1, queue: 1 } })
      .catch(() => null);
    lines.push(
      record
        ? `  record: created ${record.createdAt?.toISOString()}${record.queue ? `, put at ${JSON.stringify(record.queue)}` : ''}`
        : '  record: none',
    );
    const ref = await db
      .collection<QueueRef & { _id: string }>('queue_refs')
      .findOne({ _id: id })
      .catch(() => null);
    lines.push(
      ref
        ? `  queue ref: server ${ref.server}, beanstalkd id ${ref.beanstalkId}, tube ${ref.tube}, put ${ref.putAt?.toISOString()}`
        : '  queue ref: none',
    );
    const segment = segments.find((s) => s.jobs.includes(id));
    if (segment) {
      const index = segment.jobs.split('\n').findIndex((line) => line.startsWith(id));
      const settled = segment.settled?.split('\n')[index];
      lines.push(
        `  log: segment ${segment._id}, ${settled === undefined ? 'not settled' : `settled as "${settled}"`}`,
      );
    } else lines.push('  log: in no segment');
    const location = ref ?? record?.queue;
    if (location?.beanstalkId !== undefined)
      lines.push(`  ${await copyAt(cluster.beanstalkPort, location.beanstalkId, id)}`);
    const named = logLines.get(id) ?? [];
    lines.push(
      `  log lines naming it: ${named.length}${named.length > LOG_LINES_PER_JOB ? ' (the first shown)' : ''}`,
    );
    for (const line of named.slice(0, LOG_LINES_PER_JOB)) lines.push(`    ${line.slice(0, 400)}`);
    stories.push(lines.join('\n'));
  }
  return stories;
}
