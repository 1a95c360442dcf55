/**
 * `deliveries`: how a job's webhook went, one small document per job keyed by the job's id,
 * replaced by `_id` after every attempt (webhooks/delivery-loop.ts). The delivery loop reads it
 * to skip a delivery already made (a duplicate enqueue); GET /jobs/<id> reads it for jobs whose
 * outcome says they have a webhook. Retention deletes it with the job's other documents.
 */
import type { Collection } from 'mongodb';
import { guard } from '../driver/guard.js';
import { isDuplicateKey } from '../errors.js';

export interface DeliveryDocument {
  /** The job's id. */
  _id: string;
  /** The delivery these attempts are of (webhooks/delivery-job.ts); a newer final state replaces it. */
  deliveryId: string;
  url: string;
  attempts: number;
  /** The last attempt's HTTP status, or why it had none (`timeout`, `refused`, `private_address`, …). */
  lastStatus: number | string;
  firstAttemptAt: Date;
  lastAttemptAt: Date;
  delivered: boolean;
  /** Set when the attempts ran out: the delivery is buried in beanstalkd (kick it to try again). */
  gaveUp?: boolean;
}

export function deliveryQueries(deliveries: Collection<DeliveryDocument>) {
  return {
    /** The job's delivery record, or null (one point read). */
    findDelivery(jobId: string): Promise<DeliveryDocument | null> {
      return guard('find delivery', () => deliveries.findOne({ _id: jobId }));
    },
    /** Replaces the job's delivery record (one point write). */
    async saveDelivery(doc: DeliveryDocument): Promise<void> {
      const replace = () => deliveries.replaceOne({ _id: doc._id }, doc, { upsert: true });
      try {
        await guard('save delivery', replace);
      } catch (error: unknown) {
        // Two upserts of one new _id at once: the loser's insert half is a duplicate key.
        if (!isDuplicateKey(error)) throw error;
        await guard('save delivery', replace);
      }
    },
  };
}
