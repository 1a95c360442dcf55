/**
 * Schedules (manager/schedules/), in three small collections, each with one kind of writer,
 * because on FerretDB a write is a read of the whole document and a write of it back, so two
 * writers of one document at once lose one's changes, conditions or not (docs/facts.md):
 *
 * - `schedules`: what a schedule is, keyed by its name; written by the HTTP routes only (make,
 *   pause, resume, delete).
 * - `schedule_progress`: where its ticks stand (the next tick, the latest one enqueued); written
 *   by a scheduler only while it holds the claim on the schedule's next tick, so by one at a time.
 * - `schedule_claims`: which manager is enqueueing which tick, keyed by the tick; taken by an
 *   insert, which is exclusive on every MongoDB-wire server.
 *
 * They hold configuration, not history — at most MAX_SCHEDULES schedules however many ticks ran
 * — so listing `schedules` and `schedule_progress` whole (GET /schedules, each manager's
 * scheduler pass) is the one scan the store allows itself.
 */
import type { Collection } from 'mongodb';
import type { JobOptions } from '../documents.js';
import { guard } from '../driver/guard.js';
import { isDuplicateKey } from '../errors.js';

/** What a schedule does about ticks it finds long missed (docs/api.md, "Schedules"). */
export type CatchUp = 'once' | 'skip';

export interface ScheduleDocument {
  /** The schedule's name. */
  _id: string;
  /** Minted at each create: a schedule deleted and made again under its name starts afresh. */
  gen: string;
  /** Either a cron pattern (5 fields, or 6 with seconds first) in `timezone`… */
  cron?: string;
  /** …or a period in seconds, its ticks at whole multiples of it since the epoch. */
  everySeconds?: number;
  /** The IANA time zone a cron pattern is read in (canonical name; `UTC` by default). */
  timezone: string;
  type: string;
  /** The payload's exact text as received: what every tick's job stores and hashes. */
  payload: string;
  bytes: number;
  /** The tick jobs' options, resolved with the defaults of the manager that created it. */
  options: JobOptions;
  params?: Record<string, string | number>;
  callbackUrl?: string;
  catchUp: CatchUp;
  paused: boolean;
  /** The latest resume: ticks up to it were passed while paused, and get no job. */
  resumedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** Where a schedule's ticks stand; absent until its first tick is done or skipped. */
export interface ScheduleProgressDocument {
  /** The schedule's name. */
  _id: string;
  /** The generation of the schedule it is the progress of (another one's is ignored). */
  gen: string;
  /** The earliest tick neither enqueued nor skipped; null when the pattern has no more. */
  nextTick: Date | null;
  /** The latest tick enqueued, its job, and when it was enqueued. */
  lastTick?: Date;
  lastJobId?: string;
  lastRunAt?: Date;
  /** The latest ticks skipped as missed: from `from` up to (not including) `to`. */
  lastSkip?: { from: Date; to: Date | null; at: Date };
  /** The latest tick that could not be enqueued for good (its job was refused), and why. */
  lastError?: { tick: Date; code: string; message: string; at: Date };
  updatedAt: Date;
}

/** A manager enqueueing (or skipping) a tick, keyed by the tick, until `expiresAt`. */
export interface TickClaimDocument {
  _id: string;
  holder: string;
  expiresAt: Date;
}

export function scheduleQueries(collections: {
  schedules: Collection<ScheduleDocument>;
  progress: Collection<ScheduleProgressDocument>;
  claims: Collection<TickClaimDocument>;
}) {
  const { schedules, progress, claims } = collections;
  return {
    /** Stores a new schedule; `duplicate` when the name is taken. */
    async insertSchedule(doc: ScheduleDocument): Promise<'inserted' | 'duplicate'> {
      try {
        await guard('insert schedule', () => schedules.insertOne(doc));
        return 'inserted';
      } catch (error: unknown) {
        if (isDuplicateKey(error)) return 'duplicate';
        throw error;
      }
    },

    /** One schedule by name (one point read). */
    findSchedule(name: string): Promise<ScheduleDocument | null> {
      return guard('find schedule', () => schedules.findOne({ _id: name }));
    },

    /**
     * Every schedule, at most `limit` (a scan: acceptable only because the collection holds
     * configuration, at most MAX_SCHEDULES documents). Without `withPayload` the payloads stay
     * on the server (MongoDB) or at least off the wire (FerretDB filters fields after reading).
     */
    listSchedules(limit: number, withPayload = false): Promise<ScheduleDocument[]> {
      return guard('list schedules', () =>
        schedules
          .find({}, withPayload ? {} : { projection: { payload: 0 } })
          .limit(limit)
          .toArray(),
      );
    },

    /** Pauses or resumes a schedule (the HTTP routes are its only writers); null when there is none. */
    setSchedulePaused(name: string, paused: boolean, now: Date): Promise<ScheduleDocument | null> {
      return guard('pause or resume schedule', () =>
        schedules.findOneAndUpdate(
          { _id: name },
          { $set: paused ? { paused, updatedAt: now } : { paused, resumedAt: now, updatedAt: now } },
          { returnDocument: 'after' },
        ),
      );
    },

    /** Removes a schedule and its progress; false when there was none. */
    async deleteSchedule(name: string): Promise<boolean> {
      const result = await guard('delete schedule', () => schedules.deleteOne({ _id: name }));
      await guard('delete schedule progress', () => progress.deleteOne({ _id: name }));
      return result.deletedCount > 0;
    },

    /** A schedule's progress (one point read). */
    findScheduleProgress(name: string): Promise<ScheduleProgressDocument | null> {
      return guard('find schedule progress', () => progress.findOne({ _id: name }));
    },

    /** Every schedule's progress, at most `limit` (a scan, as listSchedules). */
    listScheduleProgress(limit: number): Promise<ScheduleProgressDocument[]> {
      return guard('list schedule progress', () => progress.find({}).limit(limit).toArray());
    },

    /** Replaces a schedule's progress: only under the claim on its next tick. */
    async saveScheduleProgress(doc: ScheduleProgressDocument): Promise<void> {
      const replace = () => progress.replaceOne({ _id: doc._id }, doc, { upsert: true });
      try {
        await guard('save schedule progress', replace);
      } catch (error: unknown) {
        // Two upserts of one new _id at once: the loser's insert half is a duplicate key.
        if (!isDuplicateKey(error)) throw error;
        await guard('save schedule progress', replace);
      }
    },

    /**
     * Takes the claim `id` for `holder` until now + ttlMs: true when it is ours (new, already
     * ours, or taken over from a holder whose claim ran out).
     */
    async claimTick(id: string, holder: string, now: Date, ttlMs: number): Promise<boolean> {
      const doc: TickClaimDocument = { _id: id, holder, expiresAt: new Date(now.getTime() + ttlMs) };
      for (let round = 0; round < 2; round += 1) {
        try {
          await guard('claim tick', () => claims.insertOne(doc));
          return true;
        } catch (error: unknown) {
          if (!isDuplicateKey(error)) throw error;
        }
        const held = await guard('read tick claim', () => claims.findOne({ _id: id }));
        if (held?.holder === holder) return true;
        if (held && held.expiresAt > now) return false;
        // Ran out (or just went): remove that one and insert again; of two managers doing this
        // at once, one insert wins.
        if (held) await guard('drop tick claim', () => claims.deleteOne({ _id: id, holder: held.holder }));
      }
      return false;
    },

    /** Every tick claim, at most `limit` (a scan: claims last seconds, or until a dead holder's are cleared). */
    listTickClaims(limit: number): Promise<TickClaimDocument[]> {
      return guard('list tick claims', () => claims.find({}).limit(limit).toArray());
    },

    /** Gives a tick's claim back (only `holder`'s). */
    async releaseTick(id: string, holder: string): Promise<void> {
      await guard('release tick claim', () => claims.deleteOne({ _id: id, holder }));
    },
  };
}
