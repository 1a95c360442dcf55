/**
 * The job log's type directory: which segments hold a job of each type, so that a walk for
 * `GET /jobs?type=` of a rare type reads a few documents instead of every segment.
 *
 * - Levels of blocks, `fanout` wide: directory (1, k) covers segments k·fanout + 1 … (k + 1)·fanout
 *   and lists, per type, the offsets (0 … fanout − 1) of the segments that hold it; directory
 *   (2, k) covers fanout² segments and lists which of its fanout level-1 blocks hold each type.
 *   With the default fanout of 100, a level-2 directory answers for 10,000 segments (up to
 *   5,000,000 jobs in full segments, 10,000 in lone ones).
 * - The maintenance pass writes a block's directory once every segment of it exists (the head
 *   is past it; manager/background/type-index.ts), and never changes it after. Segments only
 *   lose jobs after they are appended (retention), so a directory names a superset of what
 *   its segments hold: a reader may read a segment that no longer has the type, never skip one
 *   that has it.
 * - Stored in the log's own collection beside the segments and `meta`, as text (one line per
 *   type: `type offset,offset,…`), like the segments: a type never holds a space or a newline.
 */
import type { Collection } from 'mongodb';
import { guard } from '../driver/guard.js';

/** Blocks per level and segments per level-1 block, unless the log's meta says otherwise. */
export const DIRECTORY_FANOUT = 100;
/** Levels of directories above the segments. */
export const DIRECTORY_LEVELS = 2;

/** Per type, the offsets of the units (segments, or blocks of the level below) that hold it. */
export type TypeDirectory = ReadonlyMap<string, ReadonlySet<number>>;

export interface StoredDirectory {
  _id: string;
  level: number;
  k: number;
  types: string;
}

/** How many segments one block of `level` covers. */
export function blockSpan(fanout: number, level: number): number {
  return fanout ** level;
}

/** The block of `level` that holds segment `n` (segments are numbered from 1). */
export function blockOf(fanout: number, level: number, n: number): number {
  return Math.floor((n - 1) / blockSpan(fanout, level));
}

export function directoryId(level: number, k: number): string {
  return `types${level}:${String(k).padStart(12, '0')}`;
}

function encode(directory: TypeDirectory): string {
  return [...directory]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([type, offsets]) => `${type} ${[...offsets].sort((a, b) => a - b).join(',')}`)
    .join('\n');
}

function decode(text: string): TypeDirectory {
  const directory = new Map<string, Set<number>>();
  if (text === '') return directory;
  for (const line of text.split('\n')) {
    const space = line.lastIndexOf(' ');
    directory.set(
      line.slice(0, space),
      new Set(
        line
          .slice(space + 1)
          .split(',')
          .map(Number),
      ),
    );
  }
  return directory;
}

/** Reads, writes and deletes of directories: the job log's (job-log.ts) part for them. */
export function typeDirectories(collection: Collection<StoredDirectory>) {
  return {
    /** Directory (level, k); null when it was never written (or is gone below the floor). */
    async readTypeDirectory(level: number, k: number): Promise<TypeDirectory | null> {
      const stored = await guard('read type directory', () =>
        collection.findOne({ _id: directoryId(level, k) }),
      );
      return stored && decode(stored.types);
    },
    /** Writes directory (level, k) whole (maintenance only). */
    async saveTypeDirectory(level: number, k: number, directory: TypeDirectory): Promise<void> {
      await guard('save type directory', () =>
        collection.replaceOne(
          { _id: directoryId(level, k) },
          { level, k, types: encode(directory) },
          { upsert: true },
        ),
      );
    },
    /** Deletes directory (level, k) (retention, once its segments are all below the floor). */
    async deleteTypeDirectory(level: number, k: number): Promise<void> {
      await guard('delete type directory', () => collection.deleteOne({ _id: directoryId(level, k) }));
    },
  };
}
