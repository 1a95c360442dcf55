/**
 * Walking the job log down, newest first, a few segments at a time: the access path of every
 * page that lists from the log (GET /jobs: listing.ts; GET /groups: groups/group-list.ts).
 * It starts at the head, at a cursor's position, or at the last segment that may hold a job
 * created before a time; it ends at the log's floor, or at a segment whose jobs are all older
 * than a time. Point reads by `_id` only, counted, so each page can bound what it reads and
 * hand out the position to go on from.
 */
import type { JobLogReader, LogEntry, SettledEntry } from '../../../store/index.js';
import type { LogPosition } from './list-query.js';
import { typeSkipper } from './type-skip.js';

/** Segments read at once while walking down the log. */
const SEGMENTS_AHEAD = 8;
/** How far a job's creation time may run ahead of its segment's place in the log. */
const CLOCK_SKEW_MS = 5_000;

/** An entry met on the walk, with its place in the log (what a cursor names). */
export interface LogCandidate {
  n: number;
  index: number;
  entry: LogEntry;
  /** Its outcome, when the maintenance pass has settled its segment. */
  settled: SettledEntry | undefined;
}

/** Where a walk starts, and the time below which it may stop. */
export interface WalkStart {
  /** Go on from an earlier page's position. */
  cursor?: LogPosition;
  /** Only jobs created before this: the walk starts at the last segment that may hold one. */
  createdBefore?: Date;
  /** Only jobs created at or after this: the walk ends at a segment older than that. */
  createdAfter?: Date;
  /** Only jobs of this type: the walk skips the segments the type directory rules out. */
  type?: string;
}

export interface LogWalk {
  /** Segment reads made so far. */
  readonly reads: number;
  /** True once nothing older is left to read (the floor, or `createdAfter`, was passed). */
  readonly ended: boolean;
  /**
   * Reads the next few segments and answers their entries that `keep` accepts, newest first
   * (none is fine: the segments held no such entry). Once `ended`, answers none.
   */
  next(keep: (entry: LogEntry) => boolean): Promise<LogCandidate[]>;
  /** Where to go on from once every entry answered so far is dealt with: the segments not yet read. */
  resume(): LogPosition;
}

/** A walk down the log from `start`, reading nothing until `next` is called (but meta and the head). */
export async function walkLog(log: JobLogReader, start: WalkStart): Promise<LogWalk> {
  const meta = await log.readLogMeta();
  const head = await log.logHead(meta);
  const floor = Math.max(1, meta.floor);
  const after = start.createdAfter;
  // The next segment to read, and below which index of it.
  let n: number;
  let below = Number.MAX_SAFE_INTEGER;
  if (start.cursor) ({ n, index: below } = start.cursor);
  else if (start.createdBefore) {
    const before = new Date(start.createdBefore.getTime() + CLOCK_SKEW_MS);
    n = await log.segmentStartingBefore(before, floor, head);
  } else n = head;
  let reads = 0;
  let ended = false;
  const skip =
    start.type !== undefined && meta.typeIndex !== undefined
      ? typeSkipper(log, start.type, meta.typeIndex, floor, () => {
          reads += 1;
        })
      : undefined;

  /** The next few segment numbers to read, newest first, from n down (none: the floor is passed). */
  async function ahead(): Promise<number[]> {
    if (!skip)
      return Array.from({ length: Math.max(0, Math.min(SEGMENTS_AHEAD, n - floor + 1)) }, (_, k) => n - k);
    const numbers: number[] = [];
    for (let m = await skip(n); m >= floor; m = await skip(m - 1)) {
      numbers.push(m);
      if (numbers.length === SEGMENTS_AHEAD) break;
    }
    return numbers;
  }

  return {
    get reads() {
      return reads;
    },
    get ended() {
      return ended;
    },
    async next(keep) {
      const found: LogCandidate[] = [];
      if (ended) return found;
      if (n < floor) {
        ended = true;
        return found;
      }
      // A few at a time: small segments are common at the head (one per lone POST).
      const numbers = await ahead();
      const segments = await Promise.all(numbers.map((m) => log.readSegment(m)));
      reads += numbers.length;
      if (numbers.length === 0) n = floor - 1;
      for (const [k, segment] of segments.entries()) {
        const m = numbers[k] as number;
        if (segment && after !== undefined && segment.last.getTime() < after.getTime() - CLOCK_SKEW_MS) {
          ended = true;
          break;
        }
        // A cursor's index bounds its own segment only (a skip may have passed it).
        const from = m === n ? below : Number.MAX_SAFE_INTEGER;
        const jobsIn = segment?.jobs ?? [];
        for (let index = Math.min(from, jobsIn.length) - 1; index >= 0; index -= 1) {
          const entry = jobsIn[index] as LogEntry;
          if (keep(entry)) found.push({ n: m, index, entry, settled: segment?.settled?.[index] });
        }
        n = m - 1;
        below = Number.MAX_SAFE_INTEGER;
      }
      // Fewer than a full read ahead: nothing that may hold the type is left below.
      if (skip && numbers.length < SEGMENTS_AHEAD) n = floor - 1;
      if (n < floor) ended = true;
      return found;
    },
    resume: () => ({ n: n + 1, index: 0 }),
  };
}
