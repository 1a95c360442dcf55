/**
 * Steering every job of a type at once: retry its failed jobs, and kick what is buried in its
 * tube (`POST /types/<type>/retry-failed`, `POST /types/<type>/kick`). Each failed job goes
 * through the single retry (actions.ts), so its one-outcome rules hold for every job; every
 * store read is a point read by `_id`.
 *
 * - **retry-failed** walks the failed marks (store/groups/state-marks.ts) newest first and
 *   retries each job of the type whose stored outcome is still the failure its mark records.
 *   The marks of every type are in one numbered sequence, and marks never change, so a type
 *   remembers which numbers it has walked to the end: a job that fails later is marked with a
 *   higher number, so a walked number never needs walking again. A call reads the marks
 *   written since, and those an earlier call stopped short of (`limit` jobs, or ten store
 *   reads per job it may retry).
 * - **kick** is retry-failed, then each copy still buried in the tube, one at a time, as
 *   beanstalkd's `peek-buried` names it: a copy of a failed job is that job retried (a kick
 *   alone would let a worker find the outcome stored and drop the copy, never running it); a
 *   copy nothing should run is deleted (its job ended otherwise, was never recorded, or has
 *   another copy); any other copy — a body that is not ours, a job beanstalkd buried itself
 *   on put when out of memory — is kicked with `kick-job`. Never beanstalkd's `kick <bound>`:
 *   with no buried job left in the tube it kicks delayed jobs, starting them early.
 */
import { ErrorCode, isAppError } from '../../errors.js';
import { decodeEnvelope } from '../../jobs/envelope.js';
import { tubeName } from '../../jobs/queue-copy.js';
import type { Logger } from '../../log.js';
import { isQueueError, type QueueClient, QueueErrorCode, type QueueSet } from '../../queue/index.js';
import { type GroupMark, mapConcurrently, Outcome, type Store, type SweptRange } from '../../store/index.js';
import { queueLocation } from './read/queue-location.js';

export interface BulkActionDeps {
  queue: QueueSet;
  store: Store;
  log: Logger;
  tubePrefix: string;
  /** The single retry (actions.ts): its failed outcome removed, a fresh copy queued. */
  retry: (id: string) => Promise<unknown>;
}

export interface RetryFailedCounts {
  /** Jobs retried. */
  retried: number;
  /** Failed jobs that were no longer failed when their retry came (retried or cancelled meanwhile). */
  skipped: number;
  /** The call stopped at its limit: there may be more; call again. */
  more: boolean;
}

export interface KickCounts extends RetryFailedCounts {
  /** Buried copies made ready with `kick-job`. */
  kicked: number;
  /** Buried copies deleted: nothing should run them (see the module comment). */
  removed: number;
}

/** Store reads a call may spend finding failed jobs, per job it may retry (as GET /jobs does). */
const READS_PER_JOB = 10;
/** Retries in flight at once. */
const RETRIES_IN_FLIGHT = 8;
/** Outcome reads in flight at once while checking marks. */
const READS_IN_FLIGHT = 16;
/** Walked ranges kept per type: dropping one only means walking it again. */
const MAX_RANGES = 32;

/** The highest mark number at or below `n` that no walked range holds (0: none). */
export function nextUnswept(ranges: readonly SweptRange[], n: number): number {
  let m = n;
  for (;;) {
    if (m < 1) return 0;
    const range = ranges.find((r) => r.from <= m && m <= r.to);
    if (!range) return m;
    m = range.from - 1;
  }
}

/** `ranges` with `from`-`to` added: merged, highest first, at most MAX_RANGES (the lowest dropped). */
export function addSwept(ranges: readonly SweptRange[], from: number, to: number): SweptRange[] {
  const all = [...ranges, ...(from <= to ? [{ from, to }] : [])].sort((a, b) => b.to - a.to);
  const merged: SweptRange[] = [];
  for (const range of all) {
    const last = merged[merged.length - 1];
    if (last && range.to >= last.from - 1) last.from = Math.min(last.from, range.from);
    else merged.push({ ...range });
  }
  return merged.slice(0, MAX_RANGES);
}

/** retryFailed and kickBuried, over the single retry they are given. */
export function createBulkActions(deps: BulkActionDeps) {
  const { queue, store, log } = deps;

  /** Retries each job (a few at a time); the counts stay exact when one of them throws. */
  async function retryEach(ids: readonly string[], counts: RetryFailedCounts): Promise<void> {
    const outcomes = await mapConcurrently(ids, RETRIES_IN_FLIGHT, async (id) => {
      try {
        await deps.retry(id);
        return 'retried' as const;
      } catch (error: unknown) {
        // No longer failed (retried or cancelled meanwhile), its record is gone (retention), or
        // its copy no longer fits beanstalkd's max-job-size (it stays failed).
        if (
          isAppError(error) &&
          (error.code === ErrorCode.JOB_NOT_RETRYABLE ||
            error.code === ErrorCode.NOT_FOUND ||
            error.code === ErrorCode.PAYLOAD_TOO_LARGE)
        )
          return 'skipped' as const;
        return { error };
      }
    });
    let failure: { error: unknown } | undefined;
    for (const outcome of outcomes) {
      if (outcome === 'retried') counts.retried += 1;
      else if (outcome === 'skipped') counts.skipped += 1;
      else failure ??= outcome;
    }
    if (failure) throw failure.error;
  }

  /** The jobs of `type` still failed as marks numbered `n` record them, newest first. */
  async function failedIn(
    n: number,
    type: string,
    seen: Set<string>,
  ): Promise<{ ids: string[]; reads: number }> {
    const marks = (await store.readStateMarks('failed', n)) ?? [];
    const mine: GroupMark[] = [];
    for (let i = marks.length - 1; i >= 0; i -= 1) {
      const mark = marks[i] as GroupMark;
      // A job's newest mark is its current one: an older mark of it is an older failure.
      if (mark.type !== type || seen.has(mark.id)) continue;
      seen.add(mark.id);
      mine.push(mark);
    }
    const results = await mapConcurrently(mine, READS_IN_FLIGHT, (mark) => store.findResult(mark.id));
    const ids = mine
      .filter((mark, k) => {
        const result = results[k];
        return result?.outcome === Outcome.FAILED && result.finishedAt.getTime() === mark.at.getTime();
      })
      .map((mark) => mark.id);
    return { ids, reads: 1 + mine.length };
  }

  async function retryFailed(type: string, limit: number): Promise<RetryFailedCounts> {
    const counts: RetryFailedCounts = { retried: 0, skipped: 0, more: false };
    try {
      const [top, swept] = await Promise.all([store.lastStateMark('failed'), store.findSweptMarks(type)]);
      const seen = new Set<string>();
      let reads = 0;
      // The highest mark number not walked to its end when the walk stops (0: it reached the first).
      let stop = 0;
      for (let n = nextUnswept(swept, top); n >= 1; n = nextUnswept(swept, n - 1)) {
        if (counts.retried + counts.skipped >= limit || reads >= limit * READS_PER_JOB) {
          stop = n;
          break;
        }
        const failed = await failedIn(n, type, seen);
        reads += failed.reads;
        const room = limit - counts.retried - counts.skipped;
        await retryEach(failed.ids.slice(0, room), counts);
        if (failed.ids.length > room) {
          stop = n;
          break;
        }
      }
      counts.more = stop > 0;
      const walked = addSwept(swept, stop + 1, top);
      if (JSON.stringify(walked) !== JSON.stringify(swept)) await store.saveSweptMarks(type, walked);
      log.info({ type, ...counts }, 'failed jobs of a type retried');
      return counts;
    } catch (error: unknown) {
      log.warn({ type, ...counts, err: error }, 'retrying the failed jobs of a type stopped on an error');
      throw error;
    }
  }

  /** Whether a buried copy is the one its job's record (or queue ref) names, or nothing names one. */
  function isCurrentCopy(
    location: ReturnType<typeof queueLocation>,
    server: QueueClient,
    beanstalkId: string,
  ): boolean {
    return location === null || (location.server === server.server && location.beanstalkId === beanstalkId);
  }

  /** Handles the buried copy beanstalkd names next: retry its job, delete it, or kick it. */
  async function handleBuried(
    server: QueueClient,
    copy: { id: string; body: string },
    counts: KickCounts,
    type: string,
  ): Promise<'retried' | 'removed' | 'kicked' | 'gone'> {
    const envelope = decodeEnvelope(copy.body);
    if (envelope) {
      const [result, job, ref] = await Promise.all([
        store.findResult(envelope.id),
        store.findJob(envelope.id),
        store.findQueueRef(envelope.id),
      ]);
      if (result?.outcome === Outcome.FAILED && job) {
        // The retry deletes this copy when it is the job's own; another copy comes back here
        // on the next peek, its job no longer failed, and is deleted below.
        await retryEach([envelope.id], counts);
        return 'retried';
      }
      if (result || !job || !isCurrentCopy(queueLocation(job, ref), server, copy.id)) {
        const reason = result
          ? `its job is ${result.outcome}`
          : job
            ? 'its job has another copy'
            : 'never recorded';
        try {
          await server.deleteJob(copy.id);
        } catch (error: unknown) {
          // Kicked or deleted by someone else since the peek.
          if (!isQueueError(error, QueueErrorCode.NOT_FOUND)) throw error;
          return 'gone';
        }
        counts.removed += 1;
        log.info(
          { type, jobId: envelope.id, beanstalkId: copy.id, reason },
          'buried copy deleted, not kicked',
        );
        return 'removed';
      }
    }
    try {
      await server.kickJob(copy.id);
    } catch (error: unknown) {
      if (!isQueueError(error, QueueErrorCode.NOT_FOUND)) throw error;
      return 'gone';
    }
    counts.kicked += 1;
    return 'kicked';
  }

  /**
   * At most `budget` buried copies of the tube, one by one, oldest buried first (peek-buried);
   * `more` when the budget ran out with copies left.
   */
  async function kickCopies(type: string, budget: number, counts: KickCounts): Promise<void> {
    // Each server's buried copies in turn: beanstalkd ids are per server.
    for (const server of queue.servers) {
      const handled = await kickCopiesOn(server, type, budget, counts);
      budget -= handled;
      if (counts.more) return;
    }
  }

  /** kickCopies on one server; how many copies it handled. */
  async function kickCopiesOn(
    server: QueueClient,
    type: string,
    budget: number,
    counts: KickCounts,
  ): Promise<number> {
    const tube = tubeName(deps.tubePrefix, type);
    try {
      // No tube, or nothing buried: done, without a `use` that would make the tube exist.
      if ((await server.statsTube(tube)).currentJobsBuried === 0) return 0;
    } catch (error: unknown) {
      if (isQueueError(error, QueueErrorCode.NOT_FOUND)) return 0;
      throw error;
    }
    const kickedNow = new Set<string>();
    for (let handled = 0; ; handled += 1) {
      const copy = await server.peekBuried(tube);
      // A copy this call kicked is back (a worker buries a body it cannot run at once, at the
      // end of the buried list): everything before it is done, and the rest waits for the
      // next call, rather than kicking it round and round.
      if (copy === null || kickedNow.has(copy.id)) return handled;
      if (handled >= budget) {
        counts.more = true;
        return handled;
      }
      if ((await handleBuried(server, copy, counts, type)) === 'kicked') kickedNow.add(copy.id);
    }
  }

  async function kickBuried(type: string, limit: number): Promise<KickCounts> {
    const failed = await retryFailed(type, limit);
    const counts: KickCounts = { ...failed, kicked: 0, removed: 0 };
    if (failed.more) return counts;
    try {
      await kickCopies(type, limit - failed.retried - failed.skipped, counts);
    } catch (error: unknown) {
      log.warn({ type, ...counts, err: error }, 'kicking the buried jobs of a type stopped on an error');
      throw error;
    }
    log.info({ type, ...counts }, 'buried jobs of a type kicked');
    return counts;
  }

  return {
    /** Retries the type's failed jobs, newest first, at most `limit` (retried or skipped). */
    retryFailed,
    /** retryFailed, then the copies still buried in the type's tube; at most `limit` in all. */
    kickBuried,
  };
}
