/**
 * The scheduler: every manager runs one. Each pass (SCHEDULER_INTERVAL_MS) reads every
 * schedule and its progress and, for each with a tick due, claims the tick, reads them again,
 * enqueues the tick's job through the ordinary accept path, records the tick as done (the
 * progress), and gives the claim back. Exactly one job per tick, however many managers run it
 * and wherever one dies, because:
 *
 * 1. A tick's job is accepted under an Idempotency-Key made of the schedule's name, its
 *    generation and the tick's time (with spaces in it, so no client's key can be the same).
 *    Accepting one key twice — two managers at once, or a manager redoing a tick another died
 *    in — yields the one job the first accept made: what keeps a client's POST retries from
 *    making two jobs (docs/api.md, Idempotency-Key; fault suite scenario 6).
 * 2. A manager killed between the accept and the progress leaves the tick due, and its claim,
 *    which runs out after CLAIM_MS: whoever comes next takes it over and accepts the key again,
 *    which answers with the same job (and queues it, if the dead manager recorded it without
 *    queueing it: finishAbandoned does so even for a schedule paused since).
 * 3. A tick is never enqueued once it is older than its key may live (catch-up.ts): a redo
 *    always finds the key.
 *
 * The claim (an insert keyed by the tick: exclusive on every server) is not the guarantee. It
 * keeps managers from accepting one tick at once, which would still make one job but might put
 * a second copy of it in beanstalkd before the first one's queue reference is stored; and it
 * makes a scheduler the only writer of the schedule's progress while it holds it, which FerretDB
 * needs (its conditional updates do not exclude each other: store/records/schedules.ts). All of
 * this is in MongoDB: nothing a manager holds in memory is needed by another, or after a restart.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.js';
import {
  mapConcurrently,
  type ScheduleDocument,
  type ScheduleProgressDocument,
  type Schedules,
} from '../../store/index.js';
import type { JobService } from '../jobs/accept/accept.js';
import { decideTick, nextTickOf, type TickLimits, tickLimits } from '../schedules/catch-up.js';
import { MAX_SCHEDULES } from '../schedules/schedule-service.js';
import { lastOf, parseTickKey, tickKey } from '../schedules/tick-keys.js';
import { type TickSeries, ticksOf } from '../schedules/ticks.js';
import { startRepeatingPass } from './repeating-pass.js';
import { enqueueTick } from './tick-enqueue.js';

/** How long a manager's claim on a tick keeps other managers off it. */
export const CLAIM_MS = 5_000;
/** Ticks one schedule may enqueue or skip in one pass (the rest wait for the next pass). */
const MAX_STEPS_PER_PASS = 100;
/** Schedules tended at once in a pass: one slow backend call does not hold the others up. */
const SCHEDULES_AT_ONCE = 8;

export interface SchedulerDeps {
  store: Schedules;
  jobs: Pick<JobService, 'accept'>;
  log: Logger;
  /** Who we are in a claim (host:pid:random). */
  holder?: string;
  /** SCHEDULER_INTERVAL_MS; 0: no timer (passes run only when asked, as tests do). */
  intervalMs: number;
  /** IDEMPOTENCY_TTL_SECONDS and RETENTION_COMPLETED_SECONDS (0: kept), in ms: how late a tick may run. */
  idempotencyTtlMs: number;
  retentionMs: number;
  /** Told about each newly accepted tick job (GET /stats, metrics). */
  onAccepted?: (type: string) => void;
}

export interface SchedulerReport {
  /** Tick jobs accepted (a replayed key counts too: the tick's job exists). */
  enqueued: number;
  /** Ticks skipped as missed (runs of them, not each tick). */
  skips: number;
  /** Ticks refused for good (their job could not be accepted: lastError). */
  refused: number;
  /** Schedules left for this pass: a backend failed, or another manager holds a claim. */
  deferred: number;
}

export function startScheduler(deps: SchedulerDeps): {
  runOnce(): Promise<SchedulerReport>;
  stop(): Promise<void>;
} {
  const { store, log } = deps;
  const holder = deps.holder ?? `scheduler:${process.pid}:${randomBytes(4).toString('hex')}`;
  const limits: TickLimits = tickLimits(deps.idempotencyTtlMs, deps.retentionMs);
  /** Schedules whose tick failed for a transient reason: logged once until one succeeds. */
  const failing = new Set<string>();
  const enqueueing = { ...deps, log, failing };

  /**
   * Enqueues `tick` of `schedule` and moves its progress past it (the claim on the tick held,
   * the progress read under it): the progress written, or `later` when a backend failed.
   */
  async function runTick(
    schedule: ScheduleDocument,
    progress: ScheduleProgressDocument | null,
    tick: Date,
    late: boolean,
    ticks: TickSeries,
    report: SchedulerReport,
  ): Promise<ScheduleProgressDocument | 'later'> {
    const outcome = await enqueueTick(enqueueing, schedule, tick, late);
    if (outcome === 'later') {
      report.deferred += 1;
      return 'later';
    }
    const at = new Date();
    const base = {
      _id: schedule._id,
      gen: schedule.gen,
      ...lastOf(progress),
      nextTick: ticks.after(tick),
      updatedAt: at,
    };
    const written: ScheduleProgressDocument =
      'jobId' in outcome
        ? { ...base, lastTick: tick, lastJobId: outcome.jobId, lastRunAt: at }
        : { ...base, lastError: { ...outcome.refused, tick, at } };
    await store.saveScheduleProgress(written);
    if ('jobId' in outcome) report.enqueued += 1;
    else report.refused += 1;
    return written;
  }

  /** Enqueues or skips what is due of one schedule; adds to `report`. */
  async function tend(
    listed: ScheduleDocument,
    listedProgress: ScheduleProgressDocument | null,
    report: SchedulerReport,
  ): Promise<void> {
    const name = listed._id;
    let ticks: TickSeries;
    try {
      ticks = ticksOf(listed);
    } catch (error: unknown) {
      // Checked when it was made: only a document edited by hand gets here.
      log.error({ schedule: name, err: error }, 'schedule has a pattern that no longer parses; left alone');
      return;
    }
    let schedule = listed;
    let progress = listedProgress;
    for (let step = 0; step < MAX_STEPS_PER_PASS; step += 1) {
      if (schedule.paused) return;
      const next = nextTickOf(schedule, progress, ticks);
      const now = new Date();
      const decision = decideTick(ticks, next, now, schedule.catchUp, limits);
      if (decision.kind === 'wait' || next === null) return;
      // Every write to the progress is made under the claim on the tick it moves from.
      const claim = tickKey(schedule, next);
      if (!(await store.claimTick(claim, holder, now, CLAIM_MS))) {
        report.deferred += 1;
        return;
      }
      try {
        // Read again under the claim: the tick may have been done (and its claim given back)
        // since the lists were read. This read also brings the payload.
        const [fresh, freshProgress] = await Promise.all([
          store.findSchedule(name),
          store.findScheduleProgress(name),
        ]);
        if (!fresh || fresh.gen !== schedule.gen) return;
        schedule = fresh;
        progress = freshProgress?.gen === fresh.gen ? freshProgress : null;
        if (schedule.paused || nextTickOf(schedule, progress, ticks)?.getTime() !== next.getTime()) continue;
        if (decision.kind === 'skip') {
          progress = {
            _id: name,
            gen: schedule.gen,
            ...lastOf(progress),
            nextTick: decision.to,
            lastSkip: { from: decision.from, to: decision.to, at: now },
            updatedAt: now,
          };
          await store.saveScheduleProgress(progress);
          report.skips += 1;
          log.info(
            { schedule: name, from: decision.from.toISOString(), to: decision.to?.toISOString() ?? null },
            `missed ticks skipped (catch_up: ${schedule.catchUp})`,
          );
          continue;
        }
        const written = await runTick(schedule, progress, decision.tick, decision.late, ticks, report);
        if (written === 'later') return;
        progress = written;
      } finally {
        // Done or not: another manager may take the tick now (it reads the progress first).
        await store.releaseTick(claim, holder).catch(() => undefined);
      }
    }
  }

  /**
   * Claims left by managers that died holding them (run out, never given back). A tick whose
   * schedule was paused since is finished all the same: its dead manager may have recorded its
   * job without queueing it, and only accepting its key again queues it (the reconciler cannot
   * see a record whose log segment was never written). Claims of ticks done, skipped, or of
   * schedules deleted are removed; a live schedule's tick is tend's.
   */
  async function finishAbandoned(report: SchedulerReport): Promise<void> {
    const now = new Date();
    const abandoned = (await store.listTickClaims(MAX_SCHEDULES + 1)).filter(
      (claim) => claim.expiresAt.getTime() <= now.getTime(),
    );
    for (const claim of abandoned) {
      const named = parseTickKey(claim._id);
      const schedule = named ? await store.findSchedule(named.name) : null;
      if (!named || !schedule || schedule.gen !== named.gen) {
        await store.releaseTick(claim._id, claim.holder);
        continue;
      }
      const ticks = ticksOf(schedule);
      const progress = await store.findScheduleProgress(schedule._id);
      const due = nextTickOf(schedule, progress?.gen === schedule.gen ? progress : null, ticks);
      if (due?.getTime() !== named.tick.getTime()) {
        await store.releaseTick(claim._id, claim.holder);
        continue;
      }
      if (!schedule.paused || !(await store.claimTick(claim._id, holder, now, CLAIM_MS))) continue;
      try {
        const [fresh, freshProgress] = await Promise.all([
          store.findSchedule(schedule._id),
          store.findScheduleProgress(schedule._id),
        ]);
        if (!fresh || fresh.gen !== schedule.gen) continue;
        const current = freshProgress?.gen === fresh.gen ? freshProgress : null;
        if (nextTickOf(fresh, current, ticks)?.getTime() !== named.tick.getTime()) continue;
        log.info(
          { schedule: fresh._id, tick: named.tick.toISOString() },
          'finishing a tick a dead manager began',
        );
        await runTick(fresh, current, named.tick, true, ticks, report);
      } finally {
        await store.releaseTick(claim._id, holder).catch(() => undefined);
      }
    }
  }

  async function once(): Promise<SchedulerReport> {
    const report: SchedulerReport = { enqueued: 0, skips: 0, refused: 0, deferred: 0 };
    const [schedules, progress] = await Promise.all([
      store.listSchedules(MAX_SCHEDULES + 1),
      store.listScheduleProgress(MAX_SCHEDULES + 1),
    ]);
    const progressOf = new Map(progress.map((doc) => [doc._id, doc]));
    const now = Date.now();
    const due = schedules.filter((schedule) => {
      if (schedule.paused) return false;
      try {
        const next = nextTickOf(schedule, progressOf.get(schedule._id) ?? null, ticksOf(schedule));
        return next !== null && next.getTime() <= now;
      } catch {
        return true; // tend says what is wrong with it
      }
    });
    try {
      await finishAbandoned(report);
    } catch (error: unknown) {
      log.warn({ err: error }, 'could not finish the ticks of dead managers; will retry');
    }
    await mapConcurrently(due, SCHEDULES_AT_ONCE, async (schedule) => {
      try {
        await tend(schedule, progressOf.get(schedule._id) ?? null, report);
      } catch (error: unknown) {
        report.deferred += 1;
        if (!failing.has(schedule._id))
          log.warn({ schedule: schedule._id, err: error }, 'schedule pass failed; will retry');
        failing.add(schedule._id);
      }
    });
    return report;
  }

  return startRepeatingPass<SchedulerReport>({
    name: 'scheduler pass',
    pass: once,
    onFailure: () => ({ enqueued: 0, skips: 0, refused: 0, deferred: 0 }),
    log,
    intervalMs: deps.intervalMs,
  });
}
