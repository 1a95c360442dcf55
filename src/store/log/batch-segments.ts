/**
 * The job log's part of an insert batch (InsertBatcher's `prepare`): one segment for the
 * batch's job records, written beside them, so that every accepted job is in the log.
 */
import type { JobDocument } from '../documents.js';
import type { JobLog, LogEntry } from './job-log.js';

/** Appends a batch's segment; one append at a time from this process. */
export function segmentPerBatch(log: JobLog): (docs: JobDocument[]) => Promise<void> {
  /** Jobs whose segment append failed without an answer: the segment tried may hold them. */
  const unsure = new Map<string, { n: number; token: string }>();
  /** One append at a time from this process: concurrent ones would only race for numbers. */
  let appending: Promise<unknown> = Promise.resolve();
  function logBatch(docs: JobDocument[]): Promise<void> {
    const run = appending.then(() => appendFor(docs));
    appending = run.catch(() => undefined);
    return run;
  }
  async function appendFor(docs: JobDocument[]): Promise<void> {
    let rest = docs;
    const tried = new Set(docs.flatMap((doc) => unsure.get(doc._id) ?? []));
    for (const attempt of tried) {
      if (await log.holdsAppend(attempt)) rest = rest.filter((doc) => unsure.get(doc._id) !== attempt);
    }
    if (rest.length > 0) {
      const entries: LogEntry[] = rest.map((doc) => ({
        id: doc._id,
        type: doc.type,
        ...(doc.group !== undefined ? { group: doc.group } : {}),
        ...(doc.idempotencyKey !== undefined ? { key: doc.idempotencyKey } : {}),
        at: doc.createdAt,
      }));
      await log.appendSegment(entries, (attempt) => {
        for (const doc of rest) unsure.set(doc._id, attempt);
      });
    }
    for (const doc of docs) unsure.delete(doc._id);
  }
  return logBatch;
}
