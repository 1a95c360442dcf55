/**
 * `POST /jobs/matrix`: one request fanned out into a job per combination of named axes
 * (e.g. spec × browser × viewport), minus the combinations an exclusion rule matches; all
 * of them share a group id. `GET /groups/<id>`: the group's progress.
 *
 * Body: `{"template": {…}, "axes": {"browser": ["chrome","firefox"], …},
 * "exclude": [{"browser": "firefox", "viewport": "mobile"}]}`; options (type, priority, …)
 * from the query or `X-Job-*` headers as for one job. Each job's payload is the template with
 * its combination's keys set, stored and hashed as compact JSON.
 */
import { AppError, ErrorCode, isAppError } from '../errors.js';
import { newJobId } from '../jobs/job-id.js';
import type { QueueClient } from '../queue/index.js';
import {
  type JobOptions,
  mapConcurrently,
  markResult,
  POINT_READS_IN_FLIGHT,
  type Store,
} from '../store/index.js';
import { type OptionSource, parseJobOptions } from './job-options.js';
import { type JobService, settleEach, toServiceError } from './job-service.js';
import { type JobState, STATE_OF_QUEUE } from './job-views.js';
import { findLiveCopy } from './queue-location.js';
import { parsePayload } from './read-json-body.js';

type Value = string | number | boolean;
type Combination = Record<string, Value>;

const AXIS_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_AXES = 10;
const MAX_VALUES = 100;

function invalid(message: string): AppError {
  return new AppError(ErrorCode.INVALID_MATRIX, message);
}

export interface MatrixSpec {
  template: Record<string, unknown>;
  axes: Record<string, Value[]>;
  exclude: Array<Record<string, Value | Value[]>>;
}

function isValue(value: unknown): value is Value {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/** Checks the body of a matrix request. */
export function parseMatrixSpec(value: unknown): MatrixSpec {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid('send {"template", "axes", "exclude"?}');
  const { template = {}, axes, exclude = [], ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalid(`unknown field(s): ${Object.keys(rest).join(', ')}`);
  if (template === null || typeof template !== 'object' || Array.isArray(template))
    throw invalid('template must be an object');
  if (axes === null || typeof axes !== 'object' || Array.isArray(axes))
    throw invalid('axes must be an object of arrays');
  const axisEntries = Object.entries(axes as Record<string, unknown>);
  if (axisEntries.length === 0 || axisEntries.length > MAX_AXES) throw invalid(`1 to ${MAX_AXES} axes`);
  const checkedAxes: Record<string, Value[]> = {};
  for (const [name, values] of axisEntries) {
    if (!AXIS_NAME.test(name)) throw invalid(`axis name ${JSON.stringify(name)}: letters, digits and _`);
    if (
      !Array.isArray(values) ||
      values.length === 0 ||
      values.length > MAX_VALUES ||
      !values.every(isValue)
    ) {
      throw invalid(`axis ${name}: 1 to ${MAX_VALUES} strings, numbers or booleans`);
    }
    if (new Set(values).size !== values.length) throw invalid(`axis ${name} repeats a value`);
    checkedAxes[name] = values;
  }
  if (!Array.isArray(exclude)) throw invalid('exclude must be an array of rules');
  for (const rule of exclude) {
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule) || Object.keys(rule).length === 0) {
      throw invalid('each exclusion rule is an object of axis → value(s)');
    }
    for (const [name, values] of Object.entries(rule as Record<string, unknown>)) {
      if (!(name in checkedAxes)) throw invalid(`exclusion rule names an unknown axis ${name}`);
      const list = Array.isArray(values) ? values : [values];
      if (!list.every(isValue))
        throw invalid(`exclusion rule for ${name}: values must be strings, numbers or booleans`);
    }
  }
  return {
    template: template as Record<string, unknown>,
    axes: checkedAxes,
    exclude: exclude as MatrixSpec['exclude'],
  };
}

/** Every combination of the axes that no rule excludes, in axis order. */
export function combinations(spec: MatrixSpec, max: number): { kept: Combination[]; excluded: number } {
  let all: Combination[] = [{}];
  for (const [name, values] of Object.entries(spec.axes)) {
    all = all.flatMap((partial) => values.map((v) => ({ ...partial, [name]: v })));
    if (all.length > max * 10) throw invalid(`more than ${max} combinations`);
  }
  const excluded = (combo: Combination) =>
    spec.exclude.some((rule) =>
      Object.entries(rule).every(([name, v]) => (Array.isArray(v) ? v : [v]).includes(combo[name]!)),
    );
  const kept = all.filter((combo) => !excluded(combo));
  if (kept.length === 0) throw invalid('every combination is excluded');
  if (kept.length > max) throw invalid(`${kept.length} combinations; at most ${max}`);
  return { kept, excluded: all.length - kept.length };
}

export interface MatrixDeps {
  jobs: JobService;
  store: Store;
  queue: QueueClient;
  defaultOptions: JobOptions;
  allowedTypes: readonly string[];
  maxJsonDepth: number;
  maxItems: number;
  /** Told about each newly accepted job (metrics). */
  onAccepted?: (type: string) => void;
}

/**
 * Creates the group's jobs, then the group: 202 all accepted, 207 some, 503 none (as
 * batches). The group document lists the jobs that were accepted, with their combinations;
 * when none was, no group is stored.
 */
export async function fanOut(deps: MatrixDeps, spec: MatrixSpec, options: OptionSource) {
  const request = parseJobOptions(options, deps.defaultOptions, deps.allowedTypes);
  const { kept, excluded } = combinations(spec, deps.maxItems);
  const payloads = kept.map((combo) => JSON.stringify({ ...spec.template, ...combo }));
  for (const text of payloads) parsePayload(text, deps.maxJsonDepth);
  const group = newJobId();
  const ids = kept.map(() => newJobId());
  const settled = await settleEach(kept, (combination, i) =>
    deps.jobs.accept(
      { ...request, matrix: { group, combination, id: ids[i] as string } },
      { text: payloads[i]!, bytes: Buffer.byteLength(payloads[i]!) },
    ),
  );
  let accepted = 0;
  const jobs = settled.map((outcome, index) => {
    if (outcome.status === 'fulfilled') {
      accepted += 1;
      deps.onAccepted?.(request.type);
      return { index, id: outcome.value.id, combination: kept[index] };
    }
    const error = isAppError(outcome.reason)
      ? outcome.reason
      : new AppError(ErrorCode.INTERNAL, 'internal error');
    return { index, combination: kept[index], error: { code: error.code, message: error.message } };
  });
  if (accepted > 0) {
    const members = jobs.flatMap((job) =>
      job.id !== undefined ? [{ id: job.id, combination: job.combination as Combination }] : [],
    );
    try {
      await deps.store.insertGroup({
        _id: group,
        type: request.type,
        total: members.length,
        axes: spec.axes,
        excluded,
        createdAt: new Date(),
        jobs: members,
      });
    } catch (error: unknown) {
      // The jobs are accepted and run; only their group's view is missing. Say so.
      throw toServiceError(error);
    }
  }
  const status = accepted === kept.length ? 202 : accepted === 0 ? 503 : 207;
  return { status, body: { group, total: kept.length, excluded, accepted, jobs } };
}

/** Unfinished jobs whose live state a progress read looks up one by one; past this they are counted as `unfinished`. */
export const LIVE_STATES_UP_TO = 200;

/**
 * A group's progress: counts by state, finished/total, throughput, failures, results when
 * done. Reads the group, its marks, and, when few jobs are left, those jobs one by one (their
 * outcome, else beanstalkd's view): a few point reads however large the group.
 */
/** Bytes of finished groups' answers kept per manager. */
const CACHE_BYTES = 16 * 1024 * 1024;

/**
 * GET /groups/<id>. A finished group's answer depends only on its group document (never
 * changed) and its marks (numbered, never changed): it is kept, serialized, with the number
 * of the last mark it read, and served again while no mark follows that one — one point read
 * instead of reading and decoding the whole group.
 */
export function createGroupReader(deps: { store: Store; queue: QueueClient }) {
  const kept = new Map<string, { last: number; body: string }>();
  let bytes = 0;
  const keep = (id: string, last: number, body: string) => {
    if (body.length > CACHE_BYTES / 4) return;
    kept.set(id, { last, body });
    bytes += body.length;
    for (const [oldest, entry] of kept) {
      if (bytes <= CACHE_BYTES) break;
      kept.delete(oldest);
      bytes -= entry.body.length;
    }
  };
  return {
    /** The group's progress as JSON text. */
    async progress(id: string): Promise<string> {
      const cached = kept.get(id);
      if (cached && !(await deps.store.groupMarkExists(id, cached.last + 1))) {
        // Most recently used last.
        kept.delete(id);
        kept.set(id, cached);
        return cached.body;
      }
      if (cached) {
        kept.delete(id);
        bytes -= cached.body.length;
      }
      const { view, last, settled } = await groupProgress(deps, id);
      const body = JSON.stringify(view);
      if (settled) keep(id, last, body);
      return body;
    },
  };
}

export async function groupProgress(deps: { store: Store; queue: QueueClient }, id: string) {
  // Both reads at once: the marks need the member order only to decode.
  const finding = deps.store.findGroup(id);
  const [group, marks] = await Promise.all([
    finding,
    deps.store.readGroupMarks(
      id,
      finding.then((found) => found?.jobs.map((job) => job.id) ?? []),
    ),
  ]);
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
      return live ? STATE_OF_QUEUE[live.stats.state] : 'queued';
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
    started = Math.min(started, (mark.startedAt ?? mark.at).getTime());
    last = Math.max(last, mark.at.getTime());
    if (mark.state === 'failed')
      failures.push({ id: job.id, combination: job.combination, error: mark.error ?? '' });
    else if (mark.state === 'completed') {
      results.push({
        id: job.id,
        combination: job.combination,
        ...(mark.result !== undefined ? { result: mark.result } : {}),
        ...(mark.resultOmitted ? { resultOmitted: true as const } : {}),
      });
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
    ...(done ? { results } : {}),
  };
  // Settled: every job has a mark, so the answer depends on the marks alone.
  return { view, last: marks.last, settled: open.length === 0 };
}
