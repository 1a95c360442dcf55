/**
 * Retention: removes completed and cancelled jobs older than RETENTION_COMPLETED_SECONDS
 * (failed ones are kept for a retry), walking the settled part of the job log from the
 * oldest segment: no query over `results` by time, only point reads and deletes by `_id`.
 *
 * A segment is rewritten without the jobs removed from it. Emptied segments at the bottom
 * of the log raise its floor; they are deleted one pass later, so that a reader that read
 * the floor moments before never meets a hole above it. Idempotency keys go with the log
 * too: a segment older than the keys' lifetime has its jobs' keys removed.
 */
import type { Logger } from '../../log.js';
import {
  blockSpan,
  type LogEntry,
  type LogMeta,
  SEGMENT_KEEP_MS,
  type SettledEntry,
  type Store,
} from '../../store/index.js';

export interface RetentionDeps {
  store: Store;
  log: Logger;
  /** Completed and cancelled jobs older than this are removed; 0 keeps them. */
  retentionMs: number;
  /** How long an idempotency key answers with its first job (0 or absent: keys are not swept). */
  idempotencyTtlMs?: number;
  /** Jobs examined per pass at most. */
  maxPerPass?: number;
}

export interface RetentionReport {
  removed: number;
  floor: number;
  keysSwept: number;
}

/** Whether a settled job may go: finished (not failed) before the cutoff. */
function expired(settled: SettledEntry | undefined, cutoff: Date): boolean {
  return (
    settled !== undefined && settled !== null && settled.outcome !== 'failed' && settled.finishedAt < cutoff
  );
}

export function createRetention(deps: RetentionDeps) {
  const { store, log } = deps;
  const maxPerPass = deps.maxPerPass ?? 2000;
  /** The last pass stopped at `maxPerPass` with settled segments past its cutoff left to visit. */
  let behind = false;

  /** Removes the expired idempotency keys of jobs in segments older than the keys' lifetime. */
  async function sweepKeys(meta: LogMeta, now: Date): Promise<{ through: number; swept: number }> {
    let through = Math.max(meta.keysSweptThrough, meta.floor - 1);
    let swept = 0;
    const ttl = deps.idempotencyTtlMs ?? 0;
    if (ttl <= 0) return { through, swept };
    const cutoff = new Date(now.getTime() - ttl);
    const head = await store.log.logHead(meta);
    for (let examined = 0; through < head && examined < maxPerPass; ) {
      const segment = await store.log.readSegment(through + 1);
      if (segment && segment.last >= cutoff) break;
      for (const entry of segment?.jobs ?? []) {
        if (entry.key !== undefined && (await store.sweepIdempotencyKey(entry.key, entry.id, now)))
          swept += 1;
      }
      examined += segment?.jobs.length ?? 1;
      through += 1;
    }
    return { through, swept };
  }

  return {
    /** Whether the last pass left expired jobs for the next one (it stopped at `maxPerPass`). */
    get behind(): boolean {
      return behind;
    },
    async pass(now: Date = new Date()): Promise<RetentionReport> {
      behind = false;
      const meta: LogMeta = await store.log.readLogMeta();
      // Segments below the floor a previous pass raised: no reader still walks them.
      // And a type directory once its block's last segment goes.
      const directories = meta.typeIndex;
      for (let n = meta.deletedBelow; n < meta.floor; n += 1) {
        await store.log.deleteSegment(n);
        for (let level = 1; directories && level <= directories.through.length; level += 1) {
          const span = blockSpan(directories.fanout, level);
          if (n % span === 0) await store.log.deleteTypeDirectory(level, n / span - 1);
        }
      }
      let { floor, retainedThrough } = meta;
      const deletedBelow = meta.floor;
      let removed = 0;
      if (deps.retentionMs > 0) {
        const cutoff = new Date(now.getTime() - deps.retentionMs);
        let n = Math.max(retainedThrough + 1, floor);
        let examined = 0;
        while (n <= meta.settledThrough) {
          if (examined >= maxPerPass) {
            behind = true;
            break;
          }
          const segment = await store.log.readSegment(n);
          if (!segment) {
            n += 1;
            continue;
          }
          if (segment.last >= cutoff) break;
          examined += segment.jobs.length;
          const settled = segment.settled ?? [];
          const keep: number[] = [];
          const gone: LogEntry[] = [];
          for (const [i, entry] of segment.jobs.entries()) {
            const s = settled[i];
            if (s === null) continue; // never recorded: nothing to remove
            if (s?.outcome === 'failed') {
              // A failed job may have been retried or cancelled since it was settled.
              const result = await store.findResult(entry.id);
              const current: SettledEntry | undefined = result
                ? { outcome: result.outcome, finishedAt: result.finishedAt }
                : undefined;
              if (current && expired(current, cutoff)) gone.push(entry);
              else keep.push(i);
            } else if (expired(s, cutoff)) gone.push(entry);
            else keep.push(i);
          }
          if (keep.some((i) => settled[i]?.outcome !== 'failed' && settled[i] !== undefined)) {
            // Finished too recently (or still running): come back to this segment later.
            break;
          }
          if (gone.length > 0) {
            // A removed job takes its idempotency key with it, expired or not.
            for (const entry of gone) {
              if (entry.key !== undefined) await store.sweepIdempotencyKey(entry.key, entry.id);
            }
            await store.deleteJobsCompletely(gone.map((entry) => entry.id));
            removed += gone.length;
          }
          await store.log.replaceSegment({
            ...segment,
            jobs: keep.map((i) => segment.jobs[i] as LogEntry),
            settled: keep.map((i) => settled[i] as SettledEntry),
          });
          retainedThrough = n;
          n += 1;
        }
      }
      // The floor rises over emptied segments at the bottom, once SEGMENT_KEEP_MS old
      // (job-log.ts, nextNumber): they are deleted by the next pass.
      for (let steps = 0; floor <= retainedThrough && steps < maxPerPass; steps += 1) {
        const segment = await store.log.readSegment(floor);
        const oldEnough = segment && now.getTime() - segment.appendedAt.getTime() >= SEGMENT_KEEP_MS;
        if (segment && (segment.jobs.length > 0 || !oldEnough)) break;
        floor += 1;
      }
      const keys = await sweepKeys(meta, now);
      await store.log.saveLogMeta({
        ...meta,
        floor,
        retainedThrough,
        deletedBelow,
        keysSweptThrough: keys.through,
      });
      if (removed > 0) log.info({ removed, floor }, 'removed finished jobs past retention');
      return { removed, floor, keysSwept: keys.swept };
    },
  };
}
