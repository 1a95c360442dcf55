/**
 * The type directory's builder (store/log/type-directory.ts), a step of the maintenance pass.
 * Level by level, each block whose units all exist gets its directory, oldest first from the
 * floor's block: a level-1 block once the log's head is past it (every number up to the head
 * exists, job-log.ts), a level-L block once level L − 1 is built past it. A block is written
 * once; what it names only shrinks afterwards (retention), so it stays a superset.
 */
import {
  blockSpan,
  DIRECTORY_FANOUT,
  DIRECTORY_LEVELS,
  type JobLog,
  mapConcurrently,
  POINT_READS_IN_FLIGHT,
} from '../../store/index.js';

/** Unit reads (segments or directories) one pass makes at most: ten level-1 blocks. */
export const TYPE_INDEX_READS_PER_PASS = 1000;

export interface TypeIndexReport {
  /** Directories written by this pass. */
  blocks: number;
  /** The pass stopped at its bound with complete blocks left. */
  behind: boolean;
}

/**
 * Builds the directories of the complete blocks not built yet, at most `maxReads` unit reads
 * (but always one block); `fanout` applies only to a log whose directory is not started.
 */
export async function indexLogTypes(
  log: JobLog,
  options: { maxReads?: number; fanout?: number } = {},
): Promise<TypeIndexReport> {
  const maxReads = options.maxReads ?? TYPE_INDEX_READS_PER_PASS;
  const meta = await log.readLogMeta();
  const head = await log.logHead(meta);
  const fanout = meta.typeIndex?.fanout ?? options.fanout ?? DIRECTORY_FANOUT;
  const before = Array.from({ length: DIRECTORY_LEVELS }, (_, i) => meta.typeIndex?.through[i] ?? 0);
  const through = [...before];
  const report: TypeIndexReport = { blocks: 0, behind: false };
  let reads = 0;
  for (let level = 1; level <= DIRECTORY_LEVELS; level += 1) {
    const span = blockSpan(fanout, level);
    const unit = span / fanout;
    // Blocks wholly below the floor are gone for readers: none is built.
    let t = Math.max(through[level - 1] ?? 0, Math.floor((meta.floor - 1) / span) * span);
    const complete = level === 1 ? head : (through[level - 2] ?? 0);
    while (t + span <= complete) {
      if (report.blocks > 0 && reads + fanout > maxReads) {
        report.behind = true;
        break;
      }
      const k = t / span;
      const offsets = Array.from({ length: fanout }, (_, offset) => offset);
      // A unit missing (below the floor since) holds nothing a reader will look for.
      const unitTypes = await mapConcurrently(offsets, POINT_READS_IN_FLIGHT, async (offset) =>
        level === 1
          ? await log.segmentTypes(t + offset * unit + 1)
          : (await log.readTypeDirectory(level - 1, k * fanout + offset))?.keys(),
      );
      reads += fanout;
      const directory = new Map<string, Set<number>>();
      unitTypes.forEach((types, offset) => {
        for (const type of types ?? []) {
          const holding = directory.get(type) ?? new Set<number>();
          holding.add(offset);
          directory.set(type, holding);
        }
      });
      await log.saveTypeDirectory(level, k, directory);
      report.blocks += 1;
      t += span;
    }
    through[level - 1] = t;
  }
  if (through.some((t, i) => t !== before[i]) || meta.typeIndex === undefined) {
    await log.saveLogMeta({ ...(await log.readLogMeta()), typeIndex: { fanout, through } });
  }
  return report;
}
