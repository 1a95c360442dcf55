/**
 * The soak's invariant checker, run every minute and at the end. It reads every outcome
 * (one scan of `results`, only the fields it needs) and the workers' run lines, and says:
 * - lost: an acknowledged job with no outcome at the end (during the run: "overdue" when
 *   acknowledged over `overdueMs` ago, reported, judged only at the end);
 * - duplicated: an `_id` seen twice in the scan, or a job whose outcome two runs inserted; a
 *   job whose handler ran to the end twice with no fault nearby is reported with its runs, not
 *   failed (delivery is at least once: the invariant is on outcomes);
 * - wrong: a hash job not completed or with another hash, a job meant to fail that did not;
 * - strays: an outcome for an id never acknowledged whose request was not in doubt (no 2xx,
 *   or not every job of it accepted), e.g. a second job for one Idempotency-Key;
 * - 404: any GET of an acknowledged id answered 404; an Idempotency-Key replay that gave
 *   another id; a fault after which /readyz did not recover within the bound;
 * - RSS: a manager or worker that lived past twice the baseline window and ends more than 20 %
 *   above the highest RSS of its first window (5 minutes, or a third of a shorter run).
 */
import type { MongoClient } from 'mongodb';
import type { Cluster, Instance, RunLine } from './cluster.js';
import type { Ledger } from './load.js';
import type { FaultKind } from './schedule.js';

export interface FaultRecord {
  kind: FaultKind;
  target: number;
  holdMs: number;
  startedAt: number;
  restoredAt: number;
  /** From the fault's undoing to every manager's /readyz answering 200; undefined past the bound. */
  recoveryMs?: number;
}

interface Outcome {
  _id: unknown;
  outcome?: string;
  result?: { hash?: string };
  finishedAt?: Date;
}

export interface Verdict {
  at: number;
  final: boolean;
  outcomes: number;
  acked: number;
  missing: number;
  overdue: number;
  duplicated: number;
  storedTwice: number;
  ranTwiceExplained: number;
  ranTwiceUnexplained: number;
  runsPerJob: Record<string, number>;
  wrong: number;
  straysInDoubt: number;
  straysBad: number;
  notFound: number;
  slowRecoveries: number;
  rssGrowth: Array<{ name: string; startMb: number; baselineMb: number; endMb: number; judged: boolean }>;
  violations: string[];
  /** The ids of the lost and wrong jobs among the violations (the first 10): whose story to tell. */
  suspects: string[];
  /** Jobs that ran to the end twice with no fault nearby, described (the first 20). */
  unexplained: string[];
  scanMs: number;
  /** Completions per second since t0, from the outcomes' finishedAt. */
  completedPerSecond: number[];
}

export class Checker {
  /** Stray ids already judged: in doubt (allowed) or bad (with why). */
  private readonly strays = new Map<string, { ok: boolean; why: string }>();
  /** During the run: the outcomes of acknowledged jobs read so far, by id. */
  private readonly seen = new Map<string, Outcome>();

  constructor(
    private readonly cluster: Cluster,
    private readonly ledger: Ledger,
    private readonly faults: FaultRecord[],
    private readonly client: MongoClient,
    private readonly options: { overdueMs: number; baselineWindowMs: number },
  ) {}

  private db() {
    return this.client.db(this.cluster.dbName);
  }

  async countOutcomes(): Promise<number> {
    return this.db().collection('results').countDocuments();
  }

  private async judgeStray(id: string, final: boolean, ackedSerials: Set<number>) {
    const known = this.strays.get(id);
    if (known) return known;
    const record = await this.db()
      .collection<{ _id: string; payload?: string }>('jobs')
      .findOne({ _id: id }, { projection: { payload: 1 } });
    let serial: number | undefined;
    try {
      const parsed = JSON.parse(record?.payload ?? 'null') as { s?: unknown } | null;
      serial = typeof parsed?.s === 'number' ? parsed.s : undefined;
    } catch {
      serial = undefined;
    }
    let verdict: { ok: boolean; why: string } | undefined;
    if (serial !== undefined && this.ledger.inDoubt.has(serial))
      verdict = { ok: true, why: `request ${serial} in doubt` };
    else if (serial !== undefined && ackedSerials.has(serial))
      verdict = { ok: false, why: `a second job for request ${serial}, acknowledged under another id` };
    else if (final)
      verdict = {
        ok: false,
        why: `an outcome for a job never acknowledged (request ${serial ?? 'unknown'})`,
      };
    if (verdict) this.strays.set(id, verdict);
    return verdict;
  }

  private rss(final: boolean): Verdict['rssGrowth'] {
    const window = this.options.baselineWindowMs;
    const live = (i: Instance) => i.endedAt === undefined && i.rss.length > 0;
    return this.cluster.instances.filter(live).map((instance) => {
      const first = instance.rss.filter(([t]) => t <= instance.startedAt + window).map(([, mb]) => mb);
      const last = instance.rss.slice(-3).map(([, mb]) => mb);
      const endMb = last.sort((a, b) => a - b)[Math.floor(last.length / 2)] ?? 0;
      const lived = (instance.rss[instance.rss.length - 1]?.[0] ?? 0) - instance.startedAt;
      return {
        name: `${instance.role} ${instance.slot} (pid ${instance.pid})`,
        startMb: instance.rss[0]?.[1] ?? 0,
        baselineMb: Math.max(0, ...first),
        endMb,
        judged: final && lived >= 2 * window,
      };
    });
  }

  /**
   * The outcomes to judge. At the end: one scan of every outcome (the only way to see an `_id`
   * twice, or an outcome nobody acknowledged). During the run a scan would cost FerretDB more
   * every minute (it reads every row for any filter but an `_id` equality): point reads by `_id`
   * of the acknowledged jobs not yet seen with an outcome instead, cached once seen.
   */
  private async outcomes(final: boolean): Promise<Outcome[]> {
    const projection = { outcome: 1, result: 1, finishedAt: 1 };
    const results = this.db().collection<Outcome>('results');
    if (final) return results.find({}, { projection }).toArray();
    const recent = Date.now() - 5000;
    const wanted = [...this.ledger.acked]
      .filter(([id, a]) => !this.seen.has(id) && a.ackedAt < recent)
      .map(([id]) => id);
    let next = 0;
    const read = async () => {
      while (next < wanted.length) {
        const id = wanted[next++]!;
        const found = await results.findOne({ _id: id as never }, { projection });
        if (found) this.seen.set(id, found);
      }
    };
    await Promise.all(Array.from({ length: 8 }, read));
    return [...this.seen.values()];
  }

  async check(final: boolean): Promise<Verdict> {
    const now = Date.now();
    const scanStarted = Date.now();
    const results = await this.outcomes(final);
    const scanMs = Date.now() - scanStarted;
    const violations: string[] = [];
    const suspects: string[] = [];
    const seen = new Set<string>();
    let duplicated = 0;
    let wrong = 0;
    let straysInDoubt = 0;
    let straysBad = 0;
    const completedPerSecond: number[] = [];
    const ackedSerials = new Set([...this.ledger.acked.values()].map((a) => a.serial));
    for (const result of results) {
      const id = String(result._id);
      if (seen.has(id)) {
        duplicated += 1;
        violations.push(`outcome ${id} stored twice (seen twice in one scan)`);
        continue;
      }
      seen.add(id);
      const finished = result.finishedAt ? new Date(result.finishedAt).getTime() : undefined;
      if (finished !== undefined && finished >= this.ledger.t0) {
        const second = Math.floor((finished - this.ledger.t0) / 1000);
        while (completedPerSecond.length <= second) completedPerSecond.push(0);
        completedPerSecond[second]! += 1;
      }
      const acked = this.ledger.acked.get(id);
      if (!acked) {
        const stray = await this.judgeStray(id, final, ackedSerials);
        if (stray?.ok) straysInDoubt += 1;
        else if (stray) {
          straysBad += 1;
          violations.push(`stray outcome ${id}: ${stray.why}`);
        }
        continue;
      }
      const bad =
        acked.expect === 'hash'
          ? result.outcome !== 'completed' || result.result?.hash !== acked.hash
          : acked.expect === 'fail'
            ? result.outcome !== 'failed'
            : result.outcome !== 'completed' && result.outcome !== 'failed';
      if (bad) {
        wrong += 1;
        if (suspects.length < 10) suspects.push(id);
        violations.push(
          `job ${id} (${acked.expect}) ended ${result.outcome} with ${JSON.stringify(result.result)}`,
        );
      }
    }
    let missing = 0;
    let overdue = 0;
    for (const [id, acked] of this.ledger.acked) {
      if (seen.has(id)) continue;
      missing += 1;
      if (now - acked.ackedAt > this.options.overdueMs) overdue += 1;
      if (final && suspects.length < 10) suspects.push(id);
      if (final && missing <= 20)
        violations.push(`lost: job ${id} (${acked.expect}, request ${acked.serial}) has no outcome`);
    }
    if (final && missing > 20) violations.push(`… ${missing - 20} more lost`);

    // Runs: who inserted each outcome, and which handlers ran to the end more than once.
    const byJob = new Map<string, RunLine[]>();
    for (const run of this.cluster.runs) {
      if (run.ending !== 'stored' && run.ending !== 'alreadyStored') continue;
      const list = byJob.get(run.jobId);
      if (list) list.push(run);
      else byJob.set(run.jobId, [run]);
    }
    const runsPerJob: Record<string, number> = { '0': 0, '1': 0, '2': 0, '3+': 0 };
    for (const id of seen) {
      const n = byJob.get(id)?.length ?? 0;
      runsPerJob[n >= 3 ? '3+' : String(n)]! += 1;
    }
    let storedTwice = 0;
    let ranTwiceExplained = 0;
    let ranTwiceUnexplained = 0;
    /** Reported, not failed: the invariant is on outcomes (delivery is at least once). */
    const unexplained: string[] = [];
    for (const [id, runs] of byJob) {
      const stored = runs.filter((r) => r.ending === 'stored').length;
      if (stored > 1) {
        storedTwice += 1;
        violations.push(`job ${id}: its outcome was inserted by ${stored} runs`);
      }
      if (runs.length < 2) continue;
      const first = Math.min(...runs.map((r) => r.time));
      const last = Math.max(...runs.map((r) => r.time));
      const explained = this.faults.some((f) => f.startedAt <= last && f.restoredAt + 30_000 >= first);
      if (explained) ranTwiceExplained += 1;
      else {
        ranTwiceUnexplained += 1;
        const how = runs
          .map((r) => {
            const by = this.cluster.instances[r.instance];
            return `${r.ending} by ${by?.role} ${by?.slot} (pid ${by?.pid}) at delivery ${r.attempt}, ${new Date(r.time).toISOString()}`;
          })
          .join('; ');
        const requeue = this.cluster.requeued.get(id);
        if (unexplained.length < 20)
          unexplained.push(
            `job ${id} ran to the end ${runs.length} times with no fault nearby: ${how}${requeue ? `; re-queued by ${requeue}` : ''}`,
          );
      }
    }
    for (const hit of this.ledger.notFound)
      violations.push(
        `GET ${hit.id} answered 404 on manager ${hit.manager} at ${new Date(hit.at).toISOString()}`,
      );
    for (const mismatch of this.ledger.replayMismatches)
      violations.push(`Idempotency-Key replay: ${mismatch}`);
    const slow = this.faults.filter((f) => f.recoveryMs === undefined && f.restoredAt <= now);
    for (const f of slow)
      violations.push(
        `/readyz did not recover within the bound after ${f.kind} ${f.target} at ${new Date(f.startedAt).toISOString()}`,
      );
    const rssGrowth = this.rss(final);
    for (const r of rssGrowth)
      if (r.judged && r.endMb > r.baselineMb * 1.2)
        violations.push(
          `RSS of ${r.name} grew from ${r.baselineMb.toFixed(0)} MB to ${r.endMb.toFixed(0)} MB (> 20 %)`,
        );
    return {
      at: now,
      final,
      outcomes: seen.size,
      acked: this.ledger.acked.size,
      missing,
      overdue,
      duplicated,
      storedTwice,
      ranTwiceExplained,
      ranTwiceUnexplained,
      runsPerJob,
      wrong,
      straysInDoubt,
      straysBad,
      notFound: this.ledger.notFound.length,
      slowRecoveries: slow.length,
      rssGrowth,
      violations,
      suspects,
      unexplained,
      scanMs,
      completedPerSecond,
    };
  }
}
