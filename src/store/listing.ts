/** Reading many jobs at once for listings and groups: newest first, by id (= creation) order. */
import type { Collection } from 'mongodb';
import type { GroupDocument, JobDocument, ResultDocument } from './documents.js';
import { guard } from './guard.js';

export function listingQueries(collections: {
  jobs: Collection<JobDocument>;
  results: Collection<ResultDocument>;
  groups: Collection<GroupDocument>;
}) {
  const { jobs, results, groups } = collections;
  return {
    async insertGroup(doc: GroupDocument): Promise<void> {
      await guard('insert group', () => groups.insertOne(doc));
    },

    findGroup(id: string): Promise<GroupDocument | null> {
      return guard('find group', () => groups.findOne({ _id: id }));
    },

    /** Every job of a group (no payloads), oldest first. */
    groupJobs(group: string, limit: number): Promise<JobDocument[]> {
      return guard('group jobs', () =>
        jobs
          .find({ group }, { projection: { payload: 0 } })
          .sort({ _id: 1 })
          .limit(limit)
          .toArray(),
      );
    },

    async findResults(ids: readonly string[]): Promise<Map<string, ResultDocument>> {
      if (ids.length === 0) return new Map();
      const found = await guard('find results', () => results.find({ _id: { $in: [...ids] } }).toArray());
      return new Map(found.map((doc) => [doc._id, doc]));
    },
  };
}
