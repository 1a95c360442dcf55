/**
 * Walking the job log down, newest first, a few segments at a time: the access path of every
 * page that lists from the log (GET /jobs: listing.ts; GET /groups reads its own group index).
 * It starts at the head, at a cursor's position, or at the last segment that may hold a job
 * created before a time; it ends at the log's floor, or at a segment whose jobs are all older
 * than a time. Point reads by `_id` only, counted, so each page can bound what it reads and
 * hand out the position to go on from.
 */
import type { JobLogReader, LogEntry, SettledEntry } from '../../../store/index.js';
import type { LogPosition } from './list-query.js';
import { typeSkipper } from './type-skip.js';

/** Segments read at once at most while walking down the log. */
export const SEGMENTS_AHEAD = 8;
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
   * (none is fine: the segments held no such entry). Once `ended`, answers none. With `want`
   * (how many more entries the caller is after), as many segments as the walk's entries so far
   * say will hold them: one first, up to SEGMENTS_AHEAD; without it, SEGMENTS_AHEAD.
   */
  next(keep: (entry: LogEntry) => boolean, want?: number): Promise<LogCandidate[]>;
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

  /** Segments read and the entries they gave, for how many the next `want` needs. */
  let segmentsRead = 0;
  let kept = 0;
  /**
   * How many segments to read for `want` more entries. A batch's segment holds up to 500 jobs,
   * a lone POST's one: reading eight of the first kind for a page of 50 decoded 1,000 entries
   * and held them while the page's outcomes were read (32 pages at once took the manager past
   * 150 MB in the bench; docs/performance-journal.md, "Reads beside BullMQ's").
   */
  function howMany(want: number | undefined): number {
    if (want === undefined) return SEGMENTS_AHEAD;
    if (segmentsRead === 0) return 1;
    if (kept === 0) return SEGMENTS_AHEAD;
    return Math.min(SEGMENTS_AHEAD, Math.max(1, Math.ceil(want / (kept / segmentsRead))));
  }

  /** The next `count` segment numbers to read, newest first, from n down (none: the floor is passed). */
  async function ahead(count: number): Promise<number[]> {
    if (!skip) return Array.from({ length: Math.max(0, Math.min(count, n - floor + 1)) }, (_, k) => n - k);
    const numbers: number[] = [];
    for (let m = await skip(n); m >= floor; m = await skip(m - 1)) {
      numbers.push(m);
      if (numbers.length === count) break;
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
    async next(keep, want) {
      const found: LogCandidate[] = [];
      if (ended) return found;
      if (n < floor) {
        ended = true;
        return found;
      }
      // A few at a time: small segments are common at the head (one per lone POST).
      const count = howMany(want);
      const numbers = await ahead(count);
      const segments = await Promise.all(numbers.map((m) => log.readSegment(m)));
      reads += numbers.length;
      segmentsRead += numbers.length;
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
      // Fewer than asked for: nothing that may hold the type is left below.
      if (skip && numbers.length < count) n = floor - 1;
      if (n < floor) ended = true;
      kept += found.length;
      return found;
    },
    resume: () => ({ n: n + 1, index: 0 }),
  };
}
