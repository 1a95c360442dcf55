/**
 * Walking the job log for one type (GET /jobs?type=): the type directory
 * (store/log/type-directory.ts) says which segments may hold it, so a walk for a rare type
 * reads a directory per block instead of every segment. Segments above the built directories
 * (the newest, and any block whose directory is missing) are read as a plain walk would.
 */
import {
  blockOf,
  blockSpan,
  type JobLogReader,
  type LogMeta,
  type TypeDirectory,
} from '../../../store/index.js';

/**
 * A function answering, for a segment number n, the highest number ≤ n that may hold `type`
 * (below `floor`: none is left). Each directory it reads is read once, and counted by `onRead`.
 */
export function typeSkipper(
  log: Pick<JobLogReader, 'readTypeDirectory'>,
  type: string,
  index: NonNullable<LogMeta['typeIndex']>,
  floor: number,
  onRead: () => void,
): (n: number) => Promise<number> {
  const { fanout, through } = index;
  const read = new Map<string, TypeDirectory | null>();
  async function directory(level: number, k: number): Promise<TypeDirectory | null> {
    const key = `${level}:${k}`;
    if (!read.has(key)) {
      onRead();
      read.set(key, await log.readTypeDirectory(level, k));
    }
    return read.get(key) ?? null;
  }
  return async function mayHold(from: number): Promise<number> {
    let n = from;
    next: while (n >= floor) {
      for (let level = through.length; level >= 1; level -= 1) {
        if (n > (through[level - 1] ?? 0)) continue;
        const k = blockOf(fanout, level, n);
        const found = await directory(level, k);
        if (!found) continue; // not there: the level below (or the segments) decide
        const span = blockSpan(fanout, level);
        const unit = span / fanout;
        const offset = Math.floor((n - 1 - k * span) / unit);
        let best = -1;
        for (const o of found.get(type) ?? []) if (o <= offset && o > best) best = o;
        if (best === offset) continue; // n's unit may hold it: ask the level below
        // Down to the last segment of the nearest unit below that may hold it, or of the block before.
        n = k * span + (best + 1) * unit;
        continue next;
      }
      return n;
    }
    return n;
  };
}
