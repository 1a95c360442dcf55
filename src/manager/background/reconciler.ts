/**
 * The reconciler walks the job log (store/job-log.ts) and, for each job without an outcome,
 * checks that beanstalkd still holds a copy: one that is gone (beanstalkd restarted without
 * its binlog, the binlog was lost, a manager died between insert and put, a worker deleted a
 * held job whose record landed late) is put again, and a copy a dead manager left on its
 * accept hold is kicked. A beanstalkd id is trusted only when the body behind it names the
 * job, since ids repeat after restarts. Re-queuing a job that was in fact finishing is
 * harmless: its second outcome is refused by the unique `_id`.
 *
 * It also settles the log: a segment whose every job has an outcome (or never got a record:
 * its POST failed after the log was written) gets those outcomes written into it, so that
 * listing and retention read one document instead of one outcome per job, and the log's
 * `settledThrough` advances over the settled prefix. Each pass starts after that prefix,
 * reads settled segments with one read each, and examines at most `maxPerPass` jobs;
 * every read is a point read by `_id`.
 */
import { putAgain, releaseHold } from '../../jobs/queue-copy.js';
import type { Logger } from '../../log.js';
import type { QueueSet } from '../../queue/index.js';
import {
  type LogSegment,
  mapConcurrently,
  POINT_READS_IN_FLIGHT,
  type QueueLocation,
  type SettledEntry,
  type Store,
} from '../../store/index.js';
import { findLiveCopy } from '../jobs/read/queue-location.js';

export interface ReconcilerDeps {
  queue: QueueSet;
  store: Store;
  log: Logger;
  tubePrefix: string;
  /** Jobs younger than this are left alone: their accept may still be between insert and put. */
  graceMs: number;
  maxPerPass?: number;
}

export interface PassReport {
  /** Jobs examined in segments not yet settled. */
  checked: number;
  requeued: number;
  /** Copies found still on their accept hold and kicked. */
  kicked: number;
  /** Segments settled by this pass. */
  settled: number;
}

type Verdict = SettledEntry | 'pending';

export function createReconciler(deps: ReconcilerDeps) {
  const { queue, store, log } = deps;
  const maxPerPass = deps.maxPerPass ?? 2000;
  /** Where the current walk goes on (past an unsettled segment); null: from the settled prefix. */
  let walk: number | null = null;

  /** A pending job's fate: still queued (or kicked from its hold), put again, or never recorded. */
  async function check(
    id: string,
    createdAt: Date,
    cutoff: Date,
    now: Date,
    report: PassReport,
  ): Promise<Verdict> {
    if (createdAt > cutoff) return 'pending';
    const ref = await store.findQueueRef(id);
    const job = ref ? undefined : await store.findJob(id);
    const location: QueueLocation | null = ref ?? job?.queue ?? null;
    if (!ref && !job) {
      // In the log, no record: its insert failed and the POST was answered 503. Unless it
      // finished meanwhile (a record deleted by retention leaves its outcome last).
      const late = await store.findResult(id);
      return late ? { outcome: late.outcome, finishedAt: late.finishedAt } : null;
    }
    // Put under a server that is gone (down past BEANSTALK_SERVER_GONE_SECONDS, or no longer
    // one of ours): its copy counts as lost. One that is down for less is waited for.
    // With one server, a location naming another is some other deployment's: not ours to judge.
    if (location && queue.servers.length === 1 && queue.at(location.server) === null) return 'pending';
    const gone = location !== null && queue.isGone(location.server, now.getTime());
    if (location && !gone && queue.down().some((down) => down.server === location.server)) return 'pending';
    const live = gone ? null : await findLiveCopy(queue, id, location);
    if (live) {
      if (job !== undefined && job !== null && (await releaseHold(live.queue, job, live))) {
        report.kicked += 1;
        log.warn({ jobId: id }, 'kicked a job its manager left on hold');
      }
      return 'pending';
    }
    const late = await store.findResult(id);
    if (late) return { outcome: late.outcome, finishedAt: late.finishedAt };
    const record = job ?? (await store.findJob(id));
    if (!record) return null;
    const placed = await putAgain(queue, store, record, deps.tubePrefix);
    report.requeued += 1;
    log.warn(
      {
        jobId: id,
        createdAt: record.createdAt.toISOString(),
        ...(gone ? { from: location?.server, to: placed.server } : {}),
      },
      gone
        ? 're-queued a job of a beanstalkd server that is gone'
        : 're-queued a job whose beanstalkd copy was lost',
    );
    return 'pending';
  }

  /** Every job's verdict in one segment: its outcome, no record, or still pending. */
  async function judge(segment: LogSegment, cutoff: Date, now: Date, report: PassReport): Promise<Verdict[]> {
    const outcomes = await mapConcurrently(segment.jobs, POINT_READS_IN_FLIGHT, (entry) =>
      store.findResult(entry.id),
    );
    const verdicts: Verdict[] = [];
    for (const [i, entry] of segment.jobs.entries()) {
      const outcome = outcomes[i];
      verdicts.push(
        outcome
          ? { outcome: outcome.outcome, finishedAt: outcome.finishedAt }
          : await check(entry.id, entry.at, cutoff, now, report),
      );
    }
    return verdicts;
  }

  return {
    /** Whether the last pass stopped at `maxPerPass` with segments left to walk. */
    get behind(): boolean {
      return walk !== null;
    },
    /** One bounded walk; `now` decides which jobs are old enough to judge. */
    async pass(now: Date = new Date()): Promise<PassReport> {
      const cutoff = new Date(now.getTime() - deps.graceMs);
      const report: PassReport = { checked: 0, requeued: 0, kicked: 0, settled: 0 };
      const meta = await store.log.readLogMeta();
      const head = await store.log.logHead(meta);
      let settledThrough = Math.max(meta.settledThrough, meta.floor - 1);
      let n = walk !== null && walk > settledThrough ? walk : settledThrough + 1;
      /** True while every segment from the settled prefix to n is settled. */
      let prefix = n === settledThrough + 1;
      walk = null;
      while (n <= head) {
        if (report.checked >= maxPerPass) {
          walk = n;
          break;
        }
        const segment = await store.log.readSegment(n);
        if (segment && !segment.settled) {
          if (segment.first > cutoff) break; // too young to judge; so is everything after it
          const verdicts = await judge(segment, cutoff, now, report);
          report.checked += segment.jobs.length;
          if (verdicts.every((v) => v !== 'pending')) {
            await store.log.replaceSegment({ ...segment, settled: verdicts as SettledEntry[] });
            report.settled += 1;
          } else {
            prefix = false;
          }
        }
        if (prefix) settledThrough = n;
        n += 1;
      }
      if (settledThrough > meta.settledThrough) {
        await store.log.saveLogMeta({ ...(await store.log.readLogMeta()), settledThrough });
      }
      return report;
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
