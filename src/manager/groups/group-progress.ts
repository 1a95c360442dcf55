/**
 * `GET /groups/<id>`: a matrix group's progress, read by key and kept once finished; and a
 * group in brief, as `GET /groups` lists it.
 */
import { AppError, ErrorCode } from '../../errors.js';
import { readGroupAndMarks } from '../../jobs/group-results.js';
import type { QueueSet } from '../../queue/index.js';
import { mapConcurrently, markResult, POINT_READS_IN_FLIGHT, type Store } from '../../store/index.js';
import { findLiveCopy, stateOfCopy } from '../jobs/read/queue-location.js';
import type { JobState } from '../jobs/read/views.js';
import { KeptByMarks } from './kept-by-marks.js';
import type { Combination } from './matrix-spec.js';

/** Unfinished jobs whose live state a progress read looks up one by one; past this they are counted as `unfinished`. */
export const LIVE_STATES_UP_TO = 200;

/** Bytes of finished groups' answers kept per manager. */
const CACHE_BYTES = 16 * 1024 * 1024;

/**
 * GET /groups/<id>. A finished group's answer depends only on its group document and its marks:
 * it is kept, serialized, until a mark follows the last one it read (kept-by-marks.ts).
 */
export function createGroupReader(deps: { store: Store; queue: QueueSet }) {
  const kept = new KeptByMarks<string>({
    store: deps.store,
    maxSize: CACHE_BYTES,
    sizeOf: (body) => body.length,
  });
  return {
    /** The group's progress as JSON text. */
    progress(id: string): Promise<string> {
      return kept.get(id, async () => {
        const { view, last, settled } = await groupProgress(deps, id);
        return { value: JSON.stringify(view), last, keep: settled };
      });
    },
  };
}

/**
 * A group's progress: counts by state, finished/total, throughput, failures, results when
 * done. Reads the group, its marks, and, when few jobs are left, those jobs one by one (their
 * outcome, else beanstalkd's view): a few point reads however large the group.
 */
export async function groupProgress(deps: { store: Store; queue: QueueSet }, id: string) {
  const { group, marks } = await readGroupAndMarks(deps.store, id);
  if (!group) throw new AppError(ErrorCode.NOT_FOUND, `no group ${id}`);
  const open: string[] = [];
  for (const job of group.jobs) {
    const mark = marks.get(job.id);
    if (!mark || mark.state === 'queued') open.push(job.id);
  }
  const counts: Partial<Record<JobState | 'unfinished', number>> = {};
  const add = (state: JobState | 'unfinished', by = 1) => {
    counts[state] = (counts[state] ?? 0) + by;
  };
  if (open.length <= LIVE_STATES_UP_TO) {
    const states = await mapConcurrently(open, POINT_READS_IN_FLIGHT, async (jobId) => {
      // A job may have ended a moment ago, its mark still on its way.
      const result = await deps.store.findResult(jobId);
      if (result) {
        marks.set(jobId, {
          id: jobId,
          state: result.outcome,
          at: result.finishedAt,
          startedAt: result.startedAt,
          ...markResult(result.result),
          ...(result.error ? { error: result.error.message } : {}),
        });
        return null;
      }
      const ref = await deps.store.findQueueRef(jobId);
      const location = ref ?? (await deps.store.findJob(jobId))?.queue ?? null;
      const live = await findLiveCopy(deps.queue, jobId, location);
      return live ? stateOfCopy(live) : 'queued';
    });
    for (const state of states) if (state) add(state);
  } else {
    add('unfinished', open.length);
  }
  let finished = 0;
  let started = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  const failures: Array<{ id: string; combination: Combination; error: string }> = [];
  const results: Array<{ id: string; combination: Combination; result?: unknown; resultOmitted?: true }> = [];
  for (const job of group.jobs) {
    const mark = marks.get(job.id);
    if (!mark || mark.state === 'queued') continue;
    finished += 1;
    add(mark.state);
    const at = mark.at.getTime();
    const from = mark.startedAt === undefined ? at : mark.startedAt.getTime();
    if (from < started) started = from;
    if (at > last) last = at;
    if (mark.state === 'failed')
      failures.push({ id: job.id, combination: job.combination, error: mark.error ?? '' });
    else if (mark.state === 'completed') {
      // Assigned, not spread: 10,000 of these in a group's first read, in code not yet optimised.
      const entry: (typeof results)[number] = { id: job.id, combination: job.combination };
      if (mark.result !== undefined) entry.result = mark.result;
      if (mark.resultOmitted) entry.resultOmitted = true;
      results.push(entry);
    }
  }
  const seconds = finished > 0 ? Math.max(0.001, (last - started) / 1000) : 0;
  const done = finished === group.total;
  const view = {
    group: id,
    type: group.type,
    total: group.total,
    excluded: group.excluded,
    finished,
    done,
    counts,
    throughputPerSecond: finished > 0 ? Math.round((finished / seconds) * 100) / 100 : 0,
    failures,
    // Its completion job (`on_complete`), when it has one: GET /jobs/<id> follows it.
    ...(group.onComplete !== undefined ? { onComplete: group.onComplete } : {}),
    ...(done ? { results } : {}),
  };
  // Settled: every job has a mark, so the answer depends on the marks alone.
  return { view, last: marks.last, settled: open.length === 0 };
}

/** A group in brief, as GET /groups lists it. */
export interface GroupSummary {
  id: string;
  createdAt: string;
  type: string;
  /** Jobs accepted into the group (its `total`). */
  jobs: number;
  finished: number;
  done: boolean;
  /** Ended jobs by outcome; the rest, queued or running or buried, as `unfinished`. */
  counts: Partial<Record<'completed' | 'failed' | 'cancelled' | 'unfinished', number>>;
}

/**
 * A group's progress in brief (null: no such group): what its marks say — the reads GET
 * /groups/<id> starts with — without the per-job live states it adds for the last open jobs. A
 * job that ended a moment ago may count as unfinished here until its mark lands, a fraction of
 * a second later.
 */
export async function summarizeGroup(
  store: Store,
  id: string,
): Promise<{ summary: GroupSummary | null; last: number }> {
  const { group, marks } = await readGroupAndMarks(store, id);
  if (!group) return { summary: null, last: marks.last };
  const counts: GroupSummary['counts'] = {};
  let finished = 0;
  for (const job of group.jobs) {
    const state = marks.get(job.id)?.state;
    if (state === undefined || state === 'queued') continue;
    finished += 1;
    counts[state] = (counts[state] ?? 0) + 1;
  }
  if (finished < group.total) counts.unfinished = group.total - finished;
  const summary: GroupSummary = {
    id: group._id,
    createdAt: group.createdAt.toISOString(),
    type: group.type,
    jobs: group.total,
    finished,
    done: finished === group.total,
    counts,
  };
  // The last mark read: the summary holds until a mark follows it (kept-by-marks.ts).
  return { summary, last: marks.last };
}
