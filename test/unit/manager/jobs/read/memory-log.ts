/** A job log kept in memory, for the tests of a walk down it (log-walk.ts, type-skip.ts). */
import type { JobLog, LogEntry, LogMeta, LogSegment, TypeDirectory } from '../../../../../src/store/index.js';

/** A job log in memory: segments 1…count, `typeOf(n, i)` the type of job i of segment n. */
export function memoryLog(
  count: number,
  typeOf: (n: number, i: number) => string,
  perSegment: number | ((n: number) => number) = 3,
) {
  const segments = new Map<number, LogSegment>();
  const directories = new Map<string, TypeDirectory>();
  let meta: LogMeta = {
    _id: 'meta',
    floor: 1,
    deletedBelow: 1,
    settledThrough: 0,
    retainedThrough: 0,
    keysSweptThrough: 0,
  };
  const reads = { segments: 0, directories: 0 };
  const append = (n: number) => {
    const size = typeof perSegment === 'number' ? perSegment : perSegment(n);
    const jobs: LogEntry[] = Array.from({ length: size }, (_, i) => ({
      id: `job-${String(n).padStart(6, '0')}-${i}`,
      type: typeOf(n, i),
      at: new Date(1_800_000_000_000 + n * 1000 + i),
    }));
    segments.set(n, {
      _id: String(n),
      n,
      jobs,
      first: jobs[0]?.at ?? new Date(0),
      last: new Date(0),
      token: '',
      appendedAt: new Date(0),
    });
  };
  for (let n = 1; n <= count; n += 1) append(n);
  const log = {
    readLogMeta: async () => ({ ...meta }),
    saveLogMeta: async (next: LogMeta) => {
      meta = { ...next };
    },
    logHead: async () => Math.max(0, ...segments.keys()),
    readSegment: async (n: number) => {
      reads.segments += 1;
      return segments.get(n) ?? null;
    },
    segmentTypes: async (n: number) => {
      const segment = segments.get(n);
      return segment ? new Set(segment.jobs.map((job) => job.type)) : null;
    },
    readTypeDirectory: async (level: number, k: number) => {
      reads.directories += 1;
      return directories.get(`${level}:${k}`) ?? null;
    },
    saveTypeDirectory: async (level: number, k: number, directory: TypeDirectory) => {
      directories.set(`${level}:${k}`, directory);
    },
    deleteTypeDirectory: async (level: number, k: number) => {
      directories.delete(`${level}:${k}`);
    },
  };
  return {
    log: log as unknown as JobLog,
    reads,
    directories,
    append,
    /** Retention's effect: segments below `floor` and the directories of blocks wholly below it gone. */
    raiseFloor(floor: number) {
      for (let n = 1; n < floor; n += 1) segments.delete(n);
      for (const [key] of directories) {
        const [level, k] = key.split(':').map(Number) as [number, number];
        const span = (meta.typeIndex?.fanout ?? 0) ** level;
        if ((k + 1) * span < floor) directories.delete(key);
      }
      meta = { ...meta, floor, deletedBelow: floor };
    },
  };
}
