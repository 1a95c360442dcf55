/**
 * Hash jobs as MongoDB holds them: each job's payload text from `jobs` beside its outcome from
 * `results`, checked against what a default `hash` job must store, computed here rather than
 * with the code under test: the MD5 of the payload's JSON string encoding (docs/api.md, "What is
 * hashed"; src/handlers/hash.ts hashPayload with encoding `json`). What a process prints about
 * its hashes is its own opinion; this reads the stored ones.
 */
import { createHash } from 'node:crypto';
import type { Db } from 'mongodb';

/** The digest a `hash` job posted without parameters stores for this payload text. */
export const defaultHash = (payload: string) =>
  createHash('md5').update(JSON.stringify(payload), 'utf8').digest('hex');

export interface StoredJob {
  id: string;
  payload: string;
  outcome?: string;
  result?: { algorithm?: string; encoding?: string; hash?: string };
}

/** Every job record with its outcome, if it has one. */
export async function readStoredJobs(db: Db): Promise<StoredJob[]> {
  const [jobs, results] = await Promise.all([
    db
      .collection('jobs')
      .find({}, { projection: { payload: 1 } })
      .toArray(),
    db.collection('results').find({}).toArray(),
  ]);
  const outcomes = new Map(results.map((r) => [String(r._id), r]));
  return jobs.map((job) => {
    const outcome = outcomes.get(String(job._id));
    return {
      id: String(job._id),
      payload: String(job.payload),
      ...(outcome ? { outcome: String(outcome.outcome), result: outcome.result } : {}),
    };
  });
}

/** One line per job that is not completed with the default hash of its payload. */
export function hashProblems(jobs: readonly StoredJob[]): string[] {
  return jobs.flatMap((job) => {
    const want = { algorithm: 'md5', encoding: 'json', hash: defaultHash(job.payload) };
    const got = {
      algorithm: job.result?.algorithm,
      encoding: job.result?.encoding,
      hash: job.result?.hash,
    };
    return job.outcome === 'completed' && JSON.stringify(got) === JSON.stringify(want)
      ? []
      : [
          `${job.id} (${job.payload}): ${job.outcome ?? 'no outcome'} ${JSON.stringify(got)}, want ${want.hash}`,
        ];
  });
}
