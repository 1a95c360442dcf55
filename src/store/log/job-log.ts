/**
 * The job log: every accepted job, in the order managers recorded them, as numbered segments
 * read by `_id` alone. It is the access path of everything that walks jobs — GET /jobs, the
 * reconciler, retention — so that none of them scans (`jobs` is never read but by id).
 *
 * - A segment is one coalesced insert batch of job records (up to 500): its number `n`
 *   (`_id` = n zero-padded, so a string and an index read), the jobs' id, type, group and
 *   creation time, one line per job (`id type createdAtMs [g:group] [k:keyHash]`): FerretDB
 *   reads 500 lines of text in about 3 ms, the same as 500 small objects in about 40.
 * - Managers write a batch's segment beside its records (one round trip) and answer a job only
 *   once both landed, so every accepted job is in the log. A crash or failure between leaves
 *   log entries without a record, which readers skip, or records without their segment, whose
 *   POST was answered 503 (an Idempotency-Key retry puts such a job; nothing else runs it).
 * - Numbers are contiguous: a writer inserts at the number it believes next and, on a
 *   duplicate `_id`, finds the head again and retries. A writer moves on from n only once n
 *   exists, so no number is ever skipped, whatever writers die; a reader finds the head by
 *   probing forward until the first missing number.
 * - Segments are never changed by the managers that append them. The maintenance pass (one
 *   manager at a time, holding the lease) adds each job's outcome once every job in a segment
 *   has one (`settled`), and retention rewrites a segment without the jobs it removed; both
 *   replace the document whole, and readers accept either version.
 * - `meta` (written only by the maintenance pass) keeps the floor (segments below it are
 *   gone), how far segments are settled, and how far retention has gone. Retention raises the
 *   floor first and deletes the segments below it one pass later, so a reader that read
 *   `meta` moments ago never finds a hole above its floor.
 */
import { randomBytes } from 'node:crypto';
import type { Collection } from 'mongodb';
import { guard } from '../driver/guard.js';
import { findLast } from '../driver/sequence.js';
import { isDuplicateKey } from '../errors.js';
import { fromStored, type LogEntry, type LogSegment, type StoredSegment, toStored } from './segments.js';
import { type StoredDirectory, type TypeDirectory, typeDirectories } from './type-directory.js';

export type { LogEntry, LogSegment, SettledEntry, StoredSegment } from './segments.js';

export interface LogMeta {
  _id: 'meta';
  /** Segments below this number are gone for readers (deleted, or deleted by the next pass). */
  floor: number;
  /** Segments below this number are deleted. */
  deletedBelow: number;
  /** Every segment up to this number is settled. */
  settledThrough: number;
  /** Retention has visited every segment up to this number. */
  retainedThrough: number;
  /** Idempotency keys of jobs in segments up to this number are swept. */
  keysSweptThrough: number;
  /**
   * The type directory (type-directory.ts): its fanout, and per level (index 0: level 1) the
   * segment number every block up to which has its directory. Absent until first built.
   */
  typeIndex?: { fanout: number; through: number[] };
}

const META_ID = 'meta';
/** Retention leaves a segment in place at least this long after it was appended (see nextNumber). */
export const SEGMENT_KEEP_MS = 10 * 60 * 1000;
const WIDTH = 12;

export function segmentId(n: number): string {
  return String(n).padStart(WIDTH, '0');
}

const emptyMeta = (): LogMeta => ({
  _id: META_ID,
  floor: 1,
  deletedBelow: 1,
  settledThrough: 0,
  retainedThrough: 0,
  keysSweptThrough: 0,
});

/** How readers walk the log (GET /jobs, the maintenance passes): point reads only, never a write. */
export interface JobLogReader {
  /** A segment's `_id`: its number zero-padded. */
  segmentId(n: number): string;
  /** The segment numbered `n` (null: not there, or gone below the floor). */
  readSegment(n: number): Promise<LogSegment | null>;
  /** The log's meta (floor, how far settled and retained); defaults when never written. */
  readLogMeta(): Promise<LogMeta>;
  /** The number of the newest segment (0 when the log is empty), from a fresh `meta`. */
  logHead(meta: LogMeta): Promise<number>;
  /** Binary search: the highest segment number in [low, high] whose `first` is before `time`, or low - 1. */
  segmentStartingBefore(time: Date, low: number, high: number): Promise<number>;
  /** Type directory (level, k) (type-directory.ts); null when never written or gone. */
  readTypeDirectory(level: number, k: number): Promise<TypeDirectory | null>;
}

/** The whole log: the readers' part, the managers' append, and the maintenance pass's rewrites. */
export interface JobLog extends JobLogReader {
  /**
   * Appends one segment of `entries` and answers its number; `trying` is told each number
   * tried, before the insert (if it fails, the segment may still be there).
   */
  appendSegment(
    entries: readonly LogEntry[],
    trying?: (attempt: { n: number; token: string }) => void,
  ): Promise<number>;
  /** Whether the segment `n` holds the append that carried `token`. */
  holdsAppend(attempt: { n: number; token: string }): Promise<boolean>;
  /** Replaces a segment whole (maintenance only: settle, retention). */
  replaceSegment(segment: LogSegment): Promise<void>;
  deleteSegment(n: number): Promise<void>;
  /** Writes the log's meta (maintenance only: one writer at a time under its lease). */
  saveLogMeta(meta: LogMeta): Promise<void>;
  /** The types of the jobs in segment `n`; null when it is not there. */
  segmentTypes(n: number): Promise<Set<string> | null>;
  /** Writes type directory (level, k) whole (maintenance only). */
  saveTypeDirectory(level: number, k: number, directory: TypeDirectory): Promise<void>;
  /** Deletes type directory (level, k) (retention). */
  deleteTypeDirectory(level: number, k: number): Promise<void>;
}

/**
 * `readStored` reads one segment by `_id` (the store's point reader: the reads asked together,
 * such as a listing's segments ahead, go out as one command).
 */
export function jobLog(
  segments: Collection<StoredSegment>,
  metaDocs: Collection<LogMeta>,
  directories: Collection<StoredDirectory>,
  readStored: (id: string) => Promise<StoredSegment | null>,
): JobLog {
  /** The highest number known to exist (a lower bound on the head); numbers start at 1. */
  let knownHead = 0;

  const read = async (n: number): Promise<LogSegment | null> => {
    const stored = await guard('read log segment', () => readStored(segmentId(n)));
    return stored && fromStored(stored);
  };
  const exists = async (n: number) =>
    (await guard('probe log segment', () =>
      segments.findOne({ _id: segmentId(n) }, { projection: { _id: 1 } }),
    )) !== null;

  async function readMeta(): Promise<LogMeta> {
    const meta = await guard('read log meta', () => metaDocs.findOne({ _id: META_ID }));
    return meta ?? emptyMeta();
  }

  const findHead = (from: number) => findLast(exists, from);

  /** When knownHead was last seen to exist (appended or probed). */
  let knownHeadAt = 0;
  const saw = (n: number) => {
    if (n >= knownHead) {
      knownHead = n;
      knownHeadAt = Date.now();
    }
  };

  /**
   * A number to append at: one past a segment seen to exist, or past the floor. n = head + 1
   * is right while the head exists: if another manager took n, the insert answers duplicate.
   * Retention never deletes a segment appended less than SEGMENT_KEEP_MS ago, and every
   * segment after knownHead was appended after knownHead was seen, so a head seen within
   * half that time needs no new look; an older one is looked at again.
   */
  async function nextNumber(): Promise<number> {
    if (knownHead > 0 && Date.now() - knownHeadAt < SEGMENT_KEEP_MS / 2) return knownHead + 1;
    if (knownHead > 0 && (await exists(knownHead))) {
      knownHeadAt = Date.now();
      return knownHead + 1;
    }
    knownHead = await findHead((await readMeta()).floor - 1);
    knownHeadAt = Date.now();
    return knownHead + 1;
  }

  return {
    ...typeDirectories(directories),
    segmentId,
    readSegment: read,
    readLogMeta: readMeta,

    async segmentTypes(n: number): Promise<Set<string> | null> {
      const stored = await guard('read log segment', () =>
        segments.findOne({ _id: segmentId(n) }, { projection: { jobs: 1 } }),
      );
      if (!stored) return null;
      const types = new Set<string>();
      if (stored.jobs === '') return types;
      // Each line is `id type at …`: the second field.
      for (const line of stored.jobs.split('\n')) {
        const start = line.indexOf(' ') + 1;
        types.add(line.slice(start, line.indexOf(' ', start)));
      }
      return types;
    },

    /** The number of the newest segment (0 when the log is empty), from a fresh `meta`. */
    async logHead(meta: LogMeta): Promise<number> {
      saw(await findHead(Math.max(knownHead, meta.floor - 1)));
      return knownHead;
    },

    /**
     * Appends one segment of `entries` (sorted here) and answers its number. A duplicate
     * number means another writer took it, unless the segment there carries our token (an
     * earlier try that landed late).
     */
    async appendSegment(
      entries: readonly LogEntry[],
      /** Told each number tried, before the insert: if it fails, the segment may still be there. */
      trying?: (attempt: { n: number; token: string }) => void,
    ): Promise<number> {
      const jobs = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const times = jobs.map((job) => job.at.getTime());
      const token = randomBytes(8).toString('hex');
      const base = {
        jobs,
        first: new Date(Math.min(...times)),
        last: new Date(Math.max(...times)),
        token,
        appendedAt: new Date(),
      };
      let n = await nextNumber();
      for (let round = 0; ; round += 1) {
        try {
          trying?.({ n, token });
          await guard('append log segment', () =>
            segments.insertOne(toStored({ _id: segmentId(n), n, ...base })),
          );
          saw(n);
          return n;
        } catch (error: unknown) {
          if (!isDuplicateKey(error)) throw error;
        }
        const there = await guard('check log segment', () =>
          segments.findOne({ _id: segmentId(n) }, { projection: { token: 1 } }),
        );
        if (there?.token === token) {
          saw(n);
          return n;
        }
        // Another manager took n: find the head again. Contention, not a failure.
        if (round > 1000) throw new Error('job log: could not append a segment');
        saw(await findHead(n));
        n = knownHead + 1;
      }
    },

    /** Binary search: the highest segment number in [low, high] whose `first` is before `time`, or low - 1. */
    async segmentStartingBefore(time: Date, low: number, high: number): Promise<number> {
      let answer = low - 1;
      while (low <= high) {
        const mid = Math.floor((low + high) / 2);
        const segment = await guard('read log segment', () =>
          segments.findOne({ _id: segmentId(mid) }, { projection: { first: 1 } }),
        );
        if (segment && segment.first < time) {
          answer = mid;
          low = mid + 1;
        } else if (segment) {
          high = mid - 1;
        } else {
          // Missing inside the floor..head range: deleted by retention, so older than anything
          // retention keeps; look above it.
          low = mid + 1;
        }
      }
      return answer;
    },

    /** Whether the segment `n` holds the append that carried `token`. */
    async holdsAppend(attempt: { n: number; token: string }): Promise<boolean> {
      const there = await guard('check log segment', () =>
        segments.findOne({ _id: segmentId(attempt.n) }, { projection: { token: 1 } }),
      );
      return there?.token === attempt.token;
    },

    /** Replaces a segment whole (maintenance only: settle, retention). */
    async replaceSegment(segment: LogSegment): Promise<void> {
      await guard('replace log segment', () => segments.replaceOne({ _id: segment._id }, toStored(segment)));
    },

    async deleteSegment(n: number): Promise<void> {
      await guard('delete log segment', () => segments.deleteOne({ _id: segmentId(n) }));
    },

    /** Writes the log's meta (maintenance only: one writer at a time under its lease). */
    async saveLogMeta(meta: LogMeta): Promise<void> {
      const { _id, ...fields } = meta;
      await guard('save log meta', () => metaDocs.replaceOne({ _id: META_ID }, fields, { upsert: true }));
    },
  };
}
