/**
 * The managers' heartbeats: the small `managers` side collection, one document per manager
 * process, replaced every few seconds with how many jobs it accepted (per second for the last
 * few minutes, per minute for the last hour). GET /stats sums them for the throughput chart's
 * "accepted" line. Like `workers`, a handful of documents written off the hot path; the one
 * query that reads them scans that handful.
 */
import type { Collection, Db } from 'mongodb';
import { COLLECTIONS } from '../collections.js';

/** One bucket of jobs a manager accepted: a second, or a minute, starting at epoch second `t`. */
export interface AcceptBucket {
  t: number;
  accepted: number;
}

/** `managers`: one per manager process, replaced by each heartbeat. */
export interface ManagerDocument {
  /** This process's instance: host and pid, then a suffix unique to this start. */
  _id: string;
  host: string;
  pid: number;
  state: 'running' | 'stopped';
  /** Jobs accepted since it started (a replayed Idempotency-Key is not a new job). */
  accepted: number;
  /** Non-empty per-second buckets of the last few minutes, oldest first. */
  recent: AcceptBucket[];
  /** Non-empty per-minute buckets of the last hour, oldest first. */
  minutes: AcceptBucket[];
  heartbeatMs: number;
  startedAt: Date;
  /** The manager's clock at its last heartbeat. */
  lastSeen: Date;
  stoppedAt?: Date;
}

type Guard = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** The managers' heartbeat writes and the one read of them (roles.ts: ManagerHeartbeats, Observing). */
export function managerReportQueries(db: Db, guard: Guard) {
  const managers: Collection<ManagerDocument> = db.collection(COLLECTIONS.managers);
  return {
    async saveManager(doc: ManagerDocument): Promise<void> {
      await guard('save manager', () => managers.replaceOne({ _id: doc._id }, doc, { upsert: true }));
    },
    listManagers(seenSince: Date): Promise<ManagerDocument[]> {
      return guard('list managers', () =>
        managers
          .find({ lastSeen: { $gte: seenSince } })
          .limit(1000)
          .toArray(),
      );
    },
    async removeManagersSeenBefore(before: Date): Promise<number> {
      const { deletedCount } = await guard('remove old managers', () =>
        managers.deleteMany({ lastSeen: { $lt: before } }),
      );
      return deletedCount;
    },
  };
}
