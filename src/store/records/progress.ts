/**
 * `progress`: the latest progress a running job reported (`context.progress` in a handler),
 * one small document per job, replaced by `_id` — at most once a second per job
 * (worker/observe/job-events.ts throttles). GET reads it by `_id` while the job runs; retention
 * deletes it with the job's other documents.
 */
import type { Collection } from 'mongodb';
import { guard } from '../driver/guard.js';

/** What a job last reported. */
export interface ProgressDocument {
  _id: string;
  /** 0–100. */
  percent: number;
  /** Whatever small JSON the handler passed along. */
  data?: unknown;
  /** Which delivery of the job reported it. */
  attempt: number;
  at: Date;
}

export function progressQueries(progress: Collection<ProgressDocument>) {
  return {
    /** Replaces the job's progress (one point write). */
    async saveProgress(doc: ProgressDocument): Promise<void> {
      await guard('save progress', () => progress.replaceOne({ _id: doc._id }, doc, { upsert: true }));
    },
    /** The job's latest progress, or null (one point read). */
    findProgress(id: string): Promise<ProgressDocument | null> {
      return guard('find progress', () => progress.findOne({ _id: id }));
    },
  };
}
