/**
 * `POST /jobs/matrix`: one request fanned out into a job per combination of named axes
 * (e.g. spec × browser × viewport), minus the combinations an exclusion rule matches; all
 * of them share a group id (checking and expanding the body: matrix-spec.ts; the
 * group's progress: group-progress.ts).
 *
 * Body: `{"template": {…}, "axes": {"browser": ["chrome","firefox"], …},
 * "exclude": [{"browser": "firefox", "viewport": "mobile"}]}`; options (type, priority, …)
 * from the query or `X-Job-*` headers as for one job. Each job's payload is the template with
 * its combination's keys set, stored and hashed as compact JSON.
 */
import { AppError, ErrorCode } from '../../errors.js';
import { newJobId } from '../../jobs/job-id.js';
import type { QueueSet } from '../../queue/index.js';
import type { JobOptions, Store } from '../../store/index.js';
import { toAppError } from '../error-answers.js';
import type { JobService } from '../jobs/accept/accept.js';
import type { AcceptResult } from '../jobs/accept/idempotency.js';
import { type OptionSource, parseJobOptions } from '../jobs/accept/options.js';
import { type Combination, combinations, type MatrixSpec, type Value } from './matrix-spec.js';
import { acceptCompletion, completionRequest, parseOnComplete } from './on-complete.js';

/**
 * Jobs whose payloads are built at once and handed to the job service together (recorded and
 * queued in its chunks): a few chunks' worth, so a 10,000-job matrix never holds every payload
 * while its first jobs are stored.
 */
const FAN_OUT_SLICE = 1000;

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
  queue: QueueSet;
  defaultOptions: JobOptions;
  allowedTypes: readonly string[];
  maxItems: number;
  /** Bytes all of a matrix's payloads may come to (as a batch's body). */
  maxBytes: number;
  /** How deep a payload may nest (`on_complete`'s payload). */
  maxJsonDepth: number;
  /** Refuse a payload holding a prototype key (`on_complete`'s payload). */
  forbidPrototypeKeys: boolean;
  /** Told about each newly accepted job (metrics). */
  onAccepted?: (type: string) => void;
}

/**
 * Lists the group in the group index, creates its jobs, then the group, then its completion job
 * (`on_complete`, when asked): 202 all accepted, 207 some (or the completion job not), 503 none (as
 * batches). The group document lists the jobs that were accepted, with their combinations;
 * when none was, no group is stored. Every limit is checked before the first job is
 * accepted, and payloads are built as their jobs are accepted, FAN_OUT_SLICE at a time.
 */
export async function fanOut(deps: MatrixDeps, spec: MatrixSpec, options: OptionSource) {
  const request = parseJobOptions(options, deps.defaultOptions, deps.allowedTypes);
  // Each job would look its parents up at accept and at every look: 10,000 × 100 reads.
  if (request.flow !== undefined)
    throw new AppError(
      ErrorCode.INVALID_DEPENDS_ON,
      'depends_on applies to single jobs and batch items, not to a matrix',
    );
  const { kept, excluded } = combinations(spec, deps.maxItems);
  const group = newJobId();
  const ids = kept.map(() => newJobId());
  const onComplete = spec.onComplete === undefined ? undefined : parseOnComplete(spec.onComplete, deps);
  const completionId = onComplete ? newJobId() : undefined;
  if (onComplete && completionId)
    deps.jobs.checkQueuedSize(completionRequest(onComplete, group, completionId), onComplete.text);
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
  // Listed before any job exists, so no group ever misses the index (GET /groups); one whose
  // fan-out then accepts nothing has no document, and the list leaves it out. Refused: a 503,
  // and nothing was accepted.
  await deps.store.indexGroup({ id: group, state: 'queued', at: new Date(), type: request.type });
  const settled: PromiseSettledResult<AcceptResult>[] = [];
  for (let start = 0; start < kept.length; start += FAN_OUT_SLICE) {
    const entries = kept.slice(start, start + FAN_OUT_SLICE).map((combination, k) => {
      const text = payloadOf(spec.template, combination);
      return {
        request: { ...request, matrix: { group, combination, id: ids[start + k] as string } },
        payload: { text, bytes: Buffer.byteLength(text) },
      };
    });
    settled.push(...(await deps.jobs.acceptEach(entries)));
  }
  let accepted = 0;
  const jobs = settled.map((outcome, index) => {
    if (outcome.status === 'fulfilled') {
      accepted += 1;
      deps.onAccepted?.(request.type);
      return { index, id: outcome.value.id, combination: kept[index] };
    }
    const error = toAppError(outcome.reason);
    return { index, combination: kept[index], error: { code: error.code, message: error.message } };
  });
  if (accepted > 0) {
    const members = jobs.flatMap((job) =>
      job.id !== undefined ? [{ id: job.id, combination: job.combination as Combination }] : [],
    );
    await deps.store.insertGroup({
      _id: group,
      type: request.type,
      total: members.length,
      axes: Object.fromEntries(spec.axes),
      excluded,
      createdAt: new Date(),
      jobs: members,
      ...(completionId !== undefined ? { onComplete: completionId } : {}),
    });
  }
  // After the group document: the completion job waits for the members it lists.
  const completion =
    onComplete && completionId && accepted > 0
      ? await acceptCompletion(deps.jobs, onComplete, group, completionId)
      : undefined;
  const whole = accepted === kept.length && (completion === undefined || !('error' in completion));
  const status = whole ? 202 : accepted === 0 ? 503 : 207;
  return {
    status,
    body: {
      group,
      total: kept.length,
      excluded,
      accepted,
      ...(completion !== undefined ? { onComplete: completion } : {}),
      jobs,
    },
  };
}
