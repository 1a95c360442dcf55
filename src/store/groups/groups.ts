/** Matrix groups: the group document and its jobs (marks are in group-marks.ts). */
import type { Binary, Collection } from 'mongodb';
import type { GroupDocument } from '../documents.js';
import { guard } from '../driver/guard.js';
import { packJson, unpackJson } from '../driver/packed.js';

type Member = GroupDocument['jobs'][number];

/** As stored: the member list packed (driver/packed.ts: 10,000 members read in milliseconds, not a second). */
type StoredGroup = Omit<GroupDocument, 'jobs'> & { jobs: Binary };

export function groupQueries(groups: Collection<StoredGroup>) {
  return {
    async insertGroup(doc: GroupDocument): Promise<void> {
      const jobs = packJson(doc.jobs.map((job) => [job.id, job.combination]));
      await guard('insert group', () => groups.insertOne({ ...doc, jobs }));
    },

    async findGroup(id: string): Promise<GroupDocument | null> {
      const stored = await guard('find group', () => groups.findOne({ _id: id }));
      if (!stored) return null;
      const members = unpackJson<Array<[string, Member['combination']]>>(stored.jobs);
      return { ...stored, jobs: members.map(([memberId, combination]) => ({ id: memberId, combination })) };
    },
  };
}
