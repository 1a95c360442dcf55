/**
 * The built-in `summary` job: a group's completion job (`on_complete` on `POST /jobs/matrix` or
 * a batch, docs/flows-design.md) that sums the group up once every member has ended — its
 * counts by outcome, the failed members (the first 100), and one MD5 over every member's
 * outcome in the group's order (`<id> <state> <result or error as JSON>` per line), so two
 * runs over the same results agree. Run as any other job, it fails: it has no group.
 */
import { createHash } from 'node:crypto';
import type { Handler } from './types.js';

/** Failed members listed by name in the summary; the count has them all. */
const FAILED_LISTED = 100;

export const summaryHandler: Handler = async (_payload, context) => {
  if (context.group === undefined)
    throw new Error("summary runs as a group's on_complete job; this job has no group");
  const results = await context.group.results();
  const digest = createHash('md5');
  const failed: Array<{ id: string; error: string }> = [];
  for (const job of results.jobs) {
    const detail = job.state === 'completed' ? (job.result ?? null) : (job.error ?? null);
    digest.update(`${job.id} ${job.state} ${JSON.stringify(detail)}\n`, 'utf8');
    if (job.state === 'failed' && failed.length < FAILED_LISTED)
      failed.push({ id: job.id, error: job.error ?? '' });
  }
  return {
    group: results.group,
    total: results.total,
    counts: results.counts,
    failed,
    digest: digest.digest('hex'),
  };
};
