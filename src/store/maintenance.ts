/**
 * Queries for the background passes (reconciler, retention): batched by `$in` so that each
 * costs a few collection scans on FerretDB, never one scan per job.
 */
import type { Collection } from 'mongodb';
import type { AttemptDocument, JobDocument, QueueRefDocument, ResultDocument } from './documents.js';
import { guard } from './guard.js';

export function maintenanceQueries(collections: {
  jobs: Collection<JobDocument>;
  refs: Collection<QueueRefDocument>;
  results: Collection<ResultDocument>;
  attempts: Collection<AttemptDocument>;
}) {
  const { jobs, refs, results, attempts } = collections;
  return {
    /** Jobs in id (= creation) order after `afterId`, created before `createdBefore`. */
    findJobsAfter(afterId: string | null, createdBefore: Date, limit: number): Promise<JobDocument[]> {
      const filter =
        afterId === null
          ? { createdAt: { $lt: createdBefore } }
          : { _id: { $gt: afterId }, createdAt: { $lt: createdBefore } };
      return guard('page jobs', () => jobs.find(filter).sort({ _id: 1 }).limit(limit).toArray());
    },

    async findResultIds(ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const found = await guard('find results', () =>
        results.find({ _id: { $in: [...ids] } }, { projection: { _id: 1 } }).toArray(),
      );
      return new Set(found.map((doc) => doc._id));
    },

    async findQueueRefs(ids: readonly string[]): Promise<Map<string, QueueRefDocument>> {
      if (ids.length === 0) return new Map();
      const found = await guard('find queue refs', () => refs.find({ _id: { $in: [...ids] } }).toArray());
      return new Map(found.map((doc) => [doc._id, doc]));
    },

    /** Records where a job was put again (re-queue, retry): replaces the old reference. */
    async replaceQueueRef(doc: QueueRefDocument): Promise<void> {
      await guard('replace queue ref', () => refs.replaceOne({ _id: doc._id }, doc, { upsert: true }));
    },

    /** Removes a stored outcome (retry of a failed job, cancel of a failed one); true if it was there. */
    async deleteResult(id: string, outcome: ResultDocument['outcome']): Promise<boolean> {
      const result = await guard('delete result', () => results.deleteOne({ _id: id, outcome }));
      return result.deletedCount === 1;
    },

    /** Ids of completed or cancelled jobs that finished before `cutoff` (failed ones are kept). */
    async findExpiredOutcomeIds(cutoff: Date, limit: number): Promise<string[]> {
      const found = await guard('find expired outcomes', () =>
        results
          .find(
            { outcome: { $in: ['completed', 'cancelled'] }, finishedAt: { $lt: cutoff } },
            { projection: { _id: 1 } },
          )
          .limit(limit)
          .toArray(),
      );
      return found.map((doc) => doc._id);
    },

    /** Deletes every trace of these jobs; the outcome last, so a half-done sweep leaves nothing that looks lost. */
    async deleteJobsCompletely(ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      const list = [...ids];
      await guard('delete jobs', () => jobs.deleteMany({ _id: { $in: list } }));
      await guard('delete refs', () => refs.deleteMany({ _id: { $in: list } }));
      await guard('delete attempts', () => attempts.deleteMany({ jobId: { $in: list } }));
      await guard('delete results', () => results.deleteMany({ _id: { $in: list } }));
    },
  };
}
