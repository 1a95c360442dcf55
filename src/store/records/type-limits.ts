/**
 * `type_limits`: a job type's rate and concurrency limits, one small document per limited type
 * keyed by the type (docs/limits-design.md). `PUT /types/<type>/limits` replaces it by `_id`,
 * DELETE removes it; workers read it by `_id` (cached a couple of seconds); the maintenance
 * pass and GET /stats list it whole (a handful of documents, like `workers`).
 */
import type { Collection } from 'mongodb';
import { guard } from '../driver/guard.js';
import { isDuplicateKey } from '../errors.js';

export interface TypeLimitsDocument {
  /** The job type. */
  _id: string;
  ratePerSecond?: number;
  burst?: number;
  concurrency?: number;
  updatedAt: Date;
}

export function typeLimitQueries(limits: Collection<TypeLimitsDocument>) {
  return {
    /** The type's limits, or null when it has none (one point read). */
    findTypeLimits(type: string): Promise<TypeLimitsDocument | null> {
      return guard('find type limits', () => limits.findOne({ _id: type }));
    },
    /** Every limited type: a handful of documents. */
    listTypeLimits(): Promise<TypeLimitsDocument[]> {
      return guard('list type limits', () => limits.find({}).toArray());
    },
    /** Replaces the type's limits (one point write). */
    async saveTypeLimits(doc: TypeLimitsDocument): Promise<void> {
      const replace = () => limits.replaceOne({ _id: doc._id }, doc, { upsert: true });
      try {
        await guard('save type limits', replace);
      } catch (error: unknown) {
        // Two upserts of one new _id at once: the loser's insert half is a duplicate key.
        if (!isDuplicateKey(error)) throw error;
        await guard('save type limits', replace);
      }
    },
    /** Removes the type's limits; true when it had some. */
    async deleteTypeLimits(type: string): Promise<boolean> {
      const { deletedCount } = await guard('delete type limits', () => limits.deleteOne({ _id: type }));
      return deletedCount > 0;
    },
  };
}
