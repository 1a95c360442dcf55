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
import { forbiddenKey, prototypeKeyPath } from './read-json-body.js';

type Value = string | number | boolean;
type Combination = Record<string, Value>;

const AXIS_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_AXES = 10;
const MAX_VALUES = 100;
/**
 * What a matrix may cost before anything is built: the combinations it enumerates (the
 * product of its axis lengths) and the rule checks that takes (that product times the rules).
 * Checked first, so a 1 KB request cannot make the manager enumerate 10^7 combinations
 * (measured before these bounds: 7.6 s of blocked event loop and +700 MB RSS).
 */
const MAX_RULES = 1000;
const MAX_RULE_CHECKS = 2_000_000;
/** Bytes a matrix body may have beyond one job's payload (axes and rules). */
export const MATRIX_BODY_BYTES = 1024 * 1024;

function invalid(message: string): AppError {
  return new AppError(ErrorCode.INVALID_MATRIX, message);
}

export interface MatrixSpec {
  template: Record<string, unknown>;
  /** Axis name → its values, in the order sent. */
  axes: Map<string, Value[]>;
  exclude: Array<Map<string, Value[]>>;
}

function isValue(value: unknown): value is Value {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * The first key an object in this JSON text repeats, if any: JSON.parse keeps the last one
 * silently, so `{"axes": {"a": [1], "a": [2]}}` would lose an axis. `text` is valid JSON.
 */
export function repeatedKey(text: string): string | undefined {
  const objects: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      let escaped = false;
      while (text.charCodeAt(end) !== 0x22) {
        if (text.charCodeAt(end) === 0x5c) {
          escaped = true;
          end += 1;
        }
        end += 1;
      }
      const keys = objects[objects.length - 1];
      if (expectKey && keys) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b) {
      objects.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      objects.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      objects.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = objects[objects.length - 1] != null;
    }
  }
  return undefined;
}

/**
 * Checks the body of a matrix request (`text`: the body as sent, for repeated keys); with
 * `forbidPrototypeKeys`, a template holding a prototype key is FORBIDDEN_KEY, as a single
 * job's payload would be.
 */
export function parseMatrixSpec(
  value: unknown,
  text: string | undefined,
  payloadRules: { forbidPrototypeKeys: boolean },
): MatrixSpec {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid('send {"template", "axes", "exclude"?}');
  const repeated = text === undefined ? undefined : repeatedKey(text);
  if (repeated !== undefined)
    throw invalid(`the key ${JSON.stringify(repeated)} appears twice in one object`);
  const { template = {}, axes, exclude = [], ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalid(`unknown field(s): ${Object.keys(rest).join(', ')}`);
  if (template === null || typeof template !== 'object' || Array.isArray(template))
    throw invalid('template must be an object');
  if (payloadRules.forbidPrototypeKeys) {
    const found = prototypeKeyPath(template, text ?? JSON.stringify(template), '$.template');
    if (found !== undefined) throw forbiddenKey(found);
  }
  if (axes === null || typeof axes !== 'object' || Array.isArray(axes))
    throw invalid('axes must be an object of arrays');
  const axisEntries = Object.entries(axes as Record<string, unknown>);
  if (axisEntries.length === 0 || axisEntries.length > MAX_AXES) throw invalid(`1 to ${MAX_AXES} axes`);
  const checkedAxes = new Map<string, Value[]>();
  for (const [name, values] of axisEntries) {
    if (!AXIS_NAME.test(name) || name === '__proto__')
      throw invalid(`axis name ${JSON.stringify(name)}: letters, digits and _ (not __proto__)`);
    if (
      !Array.isArray(values) ||
      values.length === 0 ||
      values.length > MAX_VALUES ||
      !values.every(isValue)
    ) {
      throw invalid(`axis ${name}: 1 to ${MAX_VALUES} strings, numbers or booleans`);
    }
    if (new Set(values).size !== values.length) throw invalid(`axis ${name} repeats a value`);
    checkedAxes.set(name, values);
  }
  if (!Array.isArray(exclude)) throw invalid('exclude must be an array of rules');
  if (exclude.length > MAX_RULES) throw invalid(`at most ${MAX_RULES} exclusion rules`);
  const rules = exclude.map((rule: unknown) => {
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule) || Object.keys(rule).length === 0) {
      throw invalid('each exclusion rule is an object of axis → value(s)');
    }
    const checked = new Map<string, Value[]>();
    for (const [name, values] of Object.entries(rule as Record<string, unknown>)) {
      if (!checkedAxes.has(name)) throw invalid(`exclusion rule names an unknown axis ${name}`);
      const list: unknown[] = Array.isArray(values) ? values : [values];
      if (list.length === 0 || list.length > MAX_VALUES || !list.every(isValue))
        throw invalid(`exclusion rule for ${name}: 1 to ${MAX_VALUES} strings, numbers or booleans`);
      checked.set(name, list);
    }
    return checked;
  });
  return { template: template as Record<string, unknown>, axes: checkedAxes, exclude: rules };
}

/**
 * Every combination of the axes that no rule excludes, in axis order (the last axis varies
 * fastest). Refuses, before enumerating anything, a matrix whose axes multiply past ten times
 * `max` or whose rules would take more than MAX_RULE_CHECKS checks; only kept combinations
 * are built, and the count stops at `max`.
 */
export function combinations(spec: MatrixSpec, max: number): { kept: Combination[]; excluded: number } {
  const names = [...spec.axes.keys()];
  const axes = names.map((name) => spec.axes.get(name) as Value[]);
  const product = axes.reduce((total, values) => total * values.length, 1);
  if (product > max * 10)
    throw invalid(
      `the axes make ${product} combinations; at most ${max * 10} before exclusions, ${max} after`,
    );
  if (product * spec.exclude.length > MAX_RULE_CHECKS) {
    throw invalid(
      `${product} combinations × ${spec.exclude.length} exclusion rules is more than ${MAX_RULE_CHECKS} checks`,
    );
  }
  // Each rule as, per axis it names, which of that axis's values it matches.
  const rules = spec.exclude.map((rule) =>
    names.flatMap((name, axis) => {
      const listed = rule.get(name);
      if (!listed) return [];
      return [{ axis, matches: (axes[axis] as Value[]).map((v) => listed.includes(v)) }];
    }),
  );
  const digits = new Array<number>(axes.length).fill(0);
  const kept: Combination[] = [];
  for (let n = 0; n < product; n += 1) {
    const excluded = rules.some((rule) => rule.every(({ axis, matches }) => matches[digits[axis] as number]));
    if (!excluded) {
      if (kept.length === max)
        throw invalid(`more than ${max} combinations after exclusions; at most ${max}`);
      const combo: Combination = {};
      for (let axis = 0; axis < axes.length; axis += 1) {
        Object.defineProperty(combo, names[axis] as string, {
          value: (axes[axis] as Value[])[digits[axis] as number],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      kept.push(combo);
    }
    for (let axis = axes.length - 1; axis >= 0; axis -= 1) {
      digits[axis] = (digits[axis] as number) + 1;
      if ((digits[axis] as number) < (axes[axis] as Value[]).length) break;
      digits[axis] = 0;
    }
  }
  if (kept.length === 0) throw invalid('every combination is excluded');
  return { kept, excluded: product - kept.length };
}

/** A job's payload: the template with its combination's keys set, as compact JSON. */
function payloadOf(template: Record<string, unknown>, combo: Combination): string {
  return JSON.stringify({ ...template, ...combo });
}

/**
 * Refuses, before any job is built, a matrix whose largest job would not fit in beanstalkd
 * (`checkLargest`, given that job's payload: the template with each axis's longest value) or
 * whose payloads together exceed `maxBytes` (the template plus each kept combination's keys).
 */
function checkSizes(
  spec: MatrixSpec,
  kept: Combination[],
  checkLargest: (combination: Combination, payload: string) => void,
  maxBytes: number,
): void {
  const escapedLength = (v: Value) => JSON.stringify(JSON.stringify(v)).length;
  const longest: Combination = {};
  for (const [name, values] of spec.axes) {
    const value = values.reduce((a, b) => (escapedLength(b) > escapedLength(a) ? b : a));
    Object.defineProperty(longest, name, { value, enumerable: true, writable: true, configurable: true });
  }
  checkLargest(longest, payloadOf(spec.template, longest));
  // `"name":value,` per axis, measured once per value rather than once per job.
  const pairBytes = new Map<string, Map<Value, number>>();
  for (const [name, values] of spec.axes) {
    const nameBytes = Buffer.byteLength(JSON.stringify(name)) + 2;
    pairBytes.set(name, new Map(values.map((v) => [v, nameBytes + Buffer.byteLength(JSON.stringify(v))])));
  }
  let total = kept.length * Buffer.byteLength(JSON.stringify(spec.template));
  for (const combo of kept) {
    for (const name in combo) total += pairBytes.get(name)?.get(combo[name] as Value) ?? 0;
  }
  if (total > maxBytes) {
    throw new AppError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `the matrix's payloads come to about ${total} bytes; at most ${maxBytes} (BATCH_MAX_BYTES)`,
    );
  }
}

export interface MatrixDeps {
  jobs: JobService;
  store: Store;
  queue: QueueClient;
  defaultOptions: JobOptions;
  allowedTypes: readonly string[];
  maxItems: number;
  /** Bytes all of a matrix's payloads may come to (as a batch's body). */
  maxBytes: number;
  /** Told about each newly accepted job (metrics). */
  onAccepted?: (type: string) => void;
}

/**
 * Creates the group's jobs, then the group: 202 all accepted, 207 some, 503 none (as
 * batches). The group document lists the jobs that were accepted, with their combinations;
 * when none was, no group is stored. Every limit is checked before the first job is
 * accepted, and payloads are built as their jobs are accepted, a bounded number at a time.
 */
export async function fanOut(deps: MatrixDeps, spec: MatrixSpec, options: OptionSource) {
  const request = parseJobOptions(options, deps.defaultOptions, deps.allowedTypes);
  const { kept, excluded } = combinations(spec, deps.maxItems);
  const group = newJobId();
  const ids = kept.map(() => newJobId());
  checkSizes(
    spec,
    kept,
    (combination, payload) =>
      deps.jobs.checkQueuedSize(
        { ...request, matrix: { group, combination, id: ids[0] as string } },
        payload,
      ),
    deps.maxBytes,
  );
  const settled = await settleEach(kept, (combination, i) => {
    const text = payloadOf(spec.template, combination);
    return deps.jobs.accept(
      { ...request, matrix: { group, combination, id: ids[i] as string } },
      { text, bytes: Buffer.byteLength(text) },
    );
  });
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
        axes: Object.fromEntries(spec.axes),
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
