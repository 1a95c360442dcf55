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
import type { JobDocument, JobOptions, ResultDocument, Store } from '../store/index.js';
import { type OptionSource, parseJobOptions } from './job-options.js';
import type { JobService } from './job-service.js';
import { type JobState, STATE_OF_QUEUE } from './job-views.js';
import { findLiveCopy, queueLocation } from './queue-location.js';
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

/** Creates the group and its jobs; 202 all accepted, 207 some, 503 none (as batches). */
export async function fanOut(deps: MatrixDeps, spec: MatrixSpec, options: OptionSource) {
  const request = parseJobOptions(options, deps.defaultOptions, deps.allowedTypes);
  const { kept, excluded } = combinations(spec, deps.maxItems);
  const payloads = kept.map((combo) => JSON.stringify({ ...spec.template, ...combo }));
  for (const text of payloads) parsePayload(text, deps.maxJsonDepth);
  const group = newJobId();
  await deps.store.insertGroup({
    _id: group,
    type: request.type,
    total: kept.length,
    axes: spec.axes,
    excluded,
    createdAt: new Date(),
  });
  const settled = await Promise.allSettled(
    kept.map((combination, i) =>
      deps.jobs.accept(
        { ...request, matrix: { group, combination } },
        { text: payloads[i]!, bytes: Buffer.byteLength(payloads[i]!) },
      ),
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
  const status = accepted === kept.length ? 202 : accepted === 0 ? 503 : 207;
  return { status, body: { group, total: kept.length, excluded, accepted, jobs } };
}

/** A group's progress: counts by state, finished/total, throughput, failures, results when done. */
export async function groupProgress(deps: { store: Store; queue: QueueClient }, id: string) {
  const group = await deps.store.findGroup(id);
  if (!group) throw new AppError(ErrorCode.NOT_FOUND, `no group ${id}`);
  const jobs = await deps.store.groupJobs(id, group.total);
  const outcomes = await deps.store.findResults(jobs.map((job) => job._id));
  const refs = await deps.store.findQueueRefs(
    jobs.filter((job) => !outcomes.has(job._id)).map((job) => job._id),
  );
  const counts: Partial<Record<JobState, number>> = {};
  const stateOf = async (job: JobDocument, outcome: ResultDocument | undefined): Promise<JobState> => {
    if (outcome) return outcome.outcome;
    const live = await findLiveCopy(deps.queue, job._id, queueLocation(job, refs.get(job._id)));
    return live ? STATE_OF_QUEUE[live.stats.state] : 'queued';
  };
  const finishedOutcomes: ResultDocument[] = [];
  for (const job of jobs) {
    const outcome = outcomes.get(job._id);
    const state = await stateOf(job, outcome);
    counts[state] = (counts[state] ?? 0) + 1;
    if (outcome) finishedOutcomes.push(outcome);
  }
  const finished = finishedOutcomes.length;
  const started = Math.min(...finishedOutcomes.map((r) => r.startedAt.getTime()));
  const ended = Math.max(...finishedOutcomes.map((r) => r.finishedAt.getTime()));
  const seconds = finished > 0 ? Math.max(0.001, (ended - started) / 1000) : 0;
  const combinationOf = new Map(jobs.map((job) => [job._id, job.combination ?? {}]));
  const done = finished === group.total;
  return {
    group: id,
    type: group.type,
    total: group.total,
    excluded: group.excluded,
    finished,
    done,
    counts,
    throughputPerSecond: finished > 0 ? Math.round((finished / seconds) * 100) / 100 : 0,
    failures: finishedOutcomes
      .filter((r) => r.outcome === 'failed')
      .map((r) => ({ id: r._id, combination: combinationOf.get(r._id), error: r.error?.message ?? '' })),
    ...(done
      ? {
          results: finishedOutcomes
            .filter((r) => r.outcome === 'completed')
            .map((r) => ({ id: r._id, combination: combinationOf.get(r._id), result: r.result })),
        }
      : {}),
  };
}
