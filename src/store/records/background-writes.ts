/**
 * Writes for the background passes (reconciler, retention): deletes and replacements by
 * `_id`, one statement per document in one round trip, never a filter that scans.
 */
import type { Collection } from 'mongodb';
import type { AttemptDocument, JobDocument, QueueRefDocument, ResultDocument } from '../documents.js';
import { guard } from '../driver/guard.js';
import { isDuplicateKey } from '../errors.js';
import type { DeliveryDocument } from './deliveries.js';
import type { ProgressDocument } from './progress.js';

export function backgroundWrites(collections: {
  jobs: Collection<JobDocument>;
  refs: Collection<QueueRefDocument>;
  results: Collection<ResultDocument>;
  attempts: Collection<AttemptDocument>;
  progress: Collection<ProgressDocument>;
  deliveries: Collection<DeliveryDocument>;
}) {
  const { jobs, refs, results, attempts, progress, deliveries } = collections;
  /** Deletes these ids from one collection: a deleteOne by `_id` each, in one bulk write. */
  const deleteEach = async (what: string, collection: Collection<{ _id: string }>, ids: string[]) => {
    await guard(what, () =>
      collection.bulkWrite(
        ids.map((_id) => ({ deleteOne: { filter: { _id } } })),
        { ordered: false },
      ),
    );
  };
  return {
    /** Records where a job was put again (re-queue, retry): replaces the old reference. */
    async replaceQueueRef(doc: QueueRefDocument): Promise<void> {
      const replace = () => refs.replaceOne({ _id: doc._id }, doc, { upsert: true });
      try {
        await guard('replace queue ref', replace);
      } catch (error: unknown) {
        // Two upserts of one new _id at once: the loser's insert half fails with 11000
        // (MongoDB documents it; FerretDB does the same). The document exists now: replace it.
        if (!isDuplicateKey(error)) throw error;
        await guard('replace queue ref', replace);
      }
    },

    /**
     * Removes a stored outcome if it is still `outcome` (retry of a failed job, cancel of a
     * failed one); true if this call removed it. Deleted by `_id` alone (a filter on the
     * outcome too would scan on FerretDB); an outcome that changed meanwhile is put back.
     */
    async deleteResult(id: string, outcome: ResultDocument['outcome']): Promise<boolean> {
      const removed = await guard('delete result', () => results.findOneAndDelete({ _id: id }));
      if (removed === null) return false;
      if (removed.outcome === outcome) return true;
      await guard('restore result', () => results.insertOne(removed)).catch((error: unknown) => {
        // Someone stored another outcome in the gap: theirs stands.
        if (!isDuplicateKey(error)) throw error;
      });
      return false;
    },

    /** Deletes every trace of these jobs; the outcome last, so a half-done sweep leaves nothing that looks lost. */
    async deleteJobsCompletely(ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      const list = [...ids];
      await deleteEach('delete jobs', jobs as unknown as Collection<{ _id: string }>, list);
      await deleteEach('delete refs', refs as unknown as Collection<{ _id: string }>, list);
      await deleteEach('delete attempts', attempts as unknown as Collection<{ _id: string }>, list);
      await deleteEach('delete progress', progress as unknown as Collection<{ _id: string }>, list);
      await deleteEach('delete deliveries', deliveries as unknown as Collection<{ _id: string }>, list);
      await deleteEach('delete results', results as unknown as Collection<{ _id: string }>, list);
    },
  };
}
