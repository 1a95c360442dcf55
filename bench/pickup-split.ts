/**
 * Where a pickup's time goes, read from what the system stores about each job: the record's
 * `createdAt` (stamped by the manager once the request's body is read and checked, before its
 * insert), its queue reference's `putAt` (stamped once beanstalkd answered the put, which
 * follows the record's insert) and the outcome's `startedAt` (the handler's start). All three
 * clocks are this machine's, like the bench's own send time.
 */
import { MongoClient } from 'mongodb';
import { fmt, pct } from './format.js';

/** Each part of the pickups, in ms ascending, over the jobs that have all three stamps. */
export interface PickupSplit {
  /** Sent → record made: the client, HTTP, the body and its checks. */
  request: number[];
  /** Record made → put answered: the record's insert (and log segment), then the put. */
  recordAndPut: number[];
  /**
   * Put answered → handler start: beanstalkd to a worker's slot, its stats-job, the handler (below
   * 0 when the worker starts before the manager reads the put's answer).
   */
  toHandler: number[];
}

/**
 * The split of the jobs in `sent` (id → when sent) that have run; null when none has a queue
 * reference (with an accept hold the record holds where it was put, and nothing says when).
 */
export async function pickupSplit(
  mongoUrl: string,
  db: string,
  sent: Map<string, number>,
): Promise<PickupSplit | null> {
  const client = new MongoClient(mongoUrl);
  try {
    const ids = [...sent.keys()];
    const stamps = async (collection: string, field: string): Promise<Map<string, number>> =>
      new Map(
        (
          await client
            .db(db)
            .collection<{ _id: string } & Record<string, unknown>>(collection)
            .find({ _id: { $in: ids } }, { projection: { [field]: 1 } })
            .toArray()
        ).flatMap((doc) =>
          doc[field] instanceof Date ? [[doc._id, (doc[field] as Date).getTime()] as const] : [],
        ),
      );
    const [made, put, started] = await Promise.all([
      stamps('jobs', 'createdAt'),
      stamps('queue_refs', 'putAt'),
      stamps('results', 'startedAt'),
    ]);
    const split: PickupSplit = { request: [], recordAndPut: [], toHandler: [] };
    for (const [id, at] of sent) {
      const m = made.get(id);
      const p = put.get(id);
      const s = started.get(id);
      if (m === undefined || p === undefined || s === undefined) continue;
      split.request.push(m - at);
      split.recordAndPut.push(p - m);
      split.toHandler.push(s - p);
    }
    if (split.request.length === 0) return null;
    for (const part of [split.request, split.recordAndPut, split.toHandler]) part.sort((a, b) => a - b);
    return split;
  } finally {
    await client.close();
  }
}

/** `sent → record made p50 …/p99 …, → put answered p50 …/p99 …, → handler start p50 …/p99 … ms`. */
export function describeSplit(split: PickupSplit | null): string {
  if (split === null) return 'no split (no queue references: accept hold)';
  const part = (ms: number[]) => `p50 ${fmt(pct(ms, 50))}/p99 ${fmt(pct(ms, 99))}`;
  return `sent → record made ${part(split.request)}, → put answered ${part(split.recordAndPut)}, → handler start ${part(split.toHandler)} ms`;
}
