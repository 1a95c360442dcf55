/** Matrix groups: the group document (its jobs) and its marks (store/group-marks.ts). */
import type { Collection } from 'mongodb';
import type { GroupDocument } from './documents.js';
import { guard } from './guard.js';

export function groupQueries(groups: Collection<GroupDocument>) {
  return {
    async insertGroup(doc: GroupDocument): Promise<void> {
      await guard('insert group', () => groups.insertOne(doc));
    },

    findGroup(id: string): Promise<GroupDocument | null> {
      return guard('find group', () => groups.findOne({ _id: id }));
    },
  };
}
