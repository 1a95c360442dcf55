/**
 * The beanstalkd job body:
 * `{"id":…,"type":…,"maxAttempts":…,"payload":"<the request body as text>"}`.
 * The payload travels as a JSON string so the worker hashes exactly the bytes the client
 * sent; the id lets anyone holding a beanstalkd id check which job it really is (beanstalkd
 * ids repeat after restarts, docs/facts.md "beanstalkd 1.12"); maxAttempts tells the worker
 * when to stop retrying.
 * `held` marks a job put delayed before its record was stored: a worker that gets one that
 * was never kicked checks the record first (manager/jobs/accept/record-and-queue.ts, "Order on accept").
 * `waiting` and `released` mark a flow's copies (docs/flows-design.md).
 * This is the body's format; a body is built from a job's record only by jobs/queue-copy.ts.
 */

import { parseJsonObject } from '../json-object.js';
import { type FlowSpec, PARENT_FAILURE_POLICIES, type ParentFailurePolicy } from '../store/index.js';

export interface Envelope {
  id: string;
  type: string;
  payload: string;
  /** Deliveries before a failing job is buried with a failed outcome (1 when absent). */
  maxAttempts: number;
  /** Handler parameters chosen per job (e.g. the hash algorithm). */
  params?: JobParams;
  /** Put on hold before its record existed; the manager kicks it once the record is stored. */
  held?: boolean;
  /** A copy put again (retry, the reconciler, a replay): earlier copies may have failed runs. */
  requeued?: boolean;
  /** The matrix group the job belongs to: its outcome is marked there (store/group-marks.ts). */
  group?: string;
  /** The job's callback URL: its end is delivered there (webhooks/), known without a read. */
  callback?: string;
  /** The schedule tick that enqueued it (manager/background/scheduler.ts): its outcome keeps it. */
  schedule?: { name: string; tick: string };
  /** Its parents and policy (`depends_on`): its outcome keeps them for GET. */
  flow?: FlowSpec;
  /** A waiter in `<prefix>_flows`: the flow loop runs no handler, it releases the job (docs/flows-design.md). */
  waiting?: boolean;
  /**
   * The real copy a waiter released, put on hold before its queue ref names it: a worker that
   * gets one never kicked runs it only if the ref names this copy (manager/background/flow-loop.ts).
   */
  released?: boolean;
}

export type JobParams = Readonly<Record<string, string | number>>;

export function encodeEnvelope(envelope: Envelope): string {
  return JSON.stringify({
    id: envelope.id,
    type: envelope.type,
    maxAttempts: envelope.maxAttempts,
    ...(envelope.params && Object.keys(envelope.params).length > 0 ? { params: envelope.params } : {}),
    ...(envelope.held ? { held: true } : {}),
    ...(envelope.requeued ? { requeued: true } : {}),
    ...(envelope.group !== undefined ? { group: envelope.group } : {}),
    ...(envelope.callback !== undefined ? { callback: envelope.callback } : {}),
    ...(envelope.schedule !== undefined
      ? { schedule: { name: envelope.schedule.name, tick: envelope.schedule.tick } }
      : {}),
    ...(envelope.flow !== undefined
      ? {
          flow: {
            dependsOn: envelope.flow.dependsOn,
            onParentFailure: envelope.flow.onParentFailure,
            ...(envelope.flow.afterGroup !== undefined ? { afterGroup: envelope.flow.afterGroup } : {}),
          },
        }
      : {}),
    ...(envelope.waiting ? { waiting: true } : {}),
    ...(envelope.released ? { released: true } : {}),
    payload: envelope.payload,
  });
}

/** The envelope in a job body, or null when the body is not one of ours. */
export function decodeEnvelope(body: string): Envelope | null {
  const value = parseJsonObject(body);
  if (value === null) return null;
  const {
    id,
    type,
    payload,
    maxAttempts,
    params,
    held,
    requeued,
    group,
    callback,
    schedule,
    flow,
    waiting,
    released,
  } = value;
  if (typeof id !== 'string' || typeof type !== 'string' || typeof payload !== 'string') return null;
  const attempts =
    typeof maxAttempts === 'number' && Number.isInteger(maxAttempts) && maxAttempts > 0 ? maxAttempts : 1;
  const envelope: Envelope = { id, type, payload, maxAttempts: attempts };
  // Optional fields set one by one, absent when unset: a worker decodes every job it reserves,
  // and a spread of a conditional object each made that many more objects for the collector.
  if (params !== null && typeof params === 'object' && !Array.isArray(params)) {
    let cleanParams: Record<string, string | number> | undefined;
    for (const key in params) {
      if (!Object.hasOwn(params, key)) continue;
      const v = (params as Record<string, unknown>)[key];
      if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) {
        cleanParams ??= {};
        cleanParams[key] = v;
      }
    }
    if (cleanParams !== undefined) envelope.params = cleanParams;
  }
  if (held === true) envelope.held = true;
  if (requeued === true) envelope.requeued = true;
  if (typeof group === 'string') envelope.group = group;
  if (typeof callback === 'string' && callback !== '') envelope.callback = callback;
  const scheduled = scheduleOf(schedule);
  if (scheduled !== undefined) envelope.schedule = scheduled;
  const flowSpec = flowOf(flow);
  if (flowSpec !== undefined) envelope.flow = flowSpec;
  if (waiting === true) envelope.waiting = true;
  if (released === true) envelope.released = true;
  return envelope;
}

/** A body's `flow`, when it is one. */
function flowOf(value: unknown): FlowSpec | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { dependsOn, onParentFailure, afterGroup } = value as Record<string, unknown>;
  if (!Array.isArray(dependsOn) || !dependsOn.every((id) => typeof id === 'string')) return undefined;
  if (!(PARENT_FAILURE_POLICIES as readonly unknown[]).includes(onParentFailure)) return undefined;
  return {
    dependsOn: dependsOn as string[],
    onParentFailure: onParentFailure as ParentFailurePolicy,
    ...(typeof afterGroup === 'string' ? { afterGroup } : {}),
  };
}

/** A body's `schedule`, when it is one. */
function scheduleOf(value: unknown): { name: string; tick: string } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { name, tick } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof tick === 'string' ? { name, tick } : undefined;
}
