/**
 * Inspecting one job (GET /jobs/:id, and an idempotent replay's look at its job): its outcome
 * from the store when it has one, else its live state from beanstalkd, found through its
 * queue reference or its record (queue-location.ts), else its record alone.
 */
import { jobIdTime } from '../../../jobs/job-id.js';
import type { QueueSet } from '../../../queue/index.js';
import {
  type FlowSpec,
  type JobDocument,
  mapConcurrently,
  POINT_READS_IN_FLIGHT,
  type QueueLocation,
  type ResultDocument,
  type Store,
} from '../../../store/index.js';
import { deliveryIdOf } from '../../../webhooks/delivery-job.js';
import { findLiveCopy, type LiveCopy, stateOfCopy } from './queue-location.js';
import {
  attemptViews,
  type JobState,
  type JobView,
  liveView,
  mayHaveFailedRuns,
  payloadValue,
  resultView,
  webhookView,
} from './views.js';

export interface JobInspectorDeps {
  queue: QueueSet;
  store: Store;
}

/** A job's view, and its live copy in beanstalkd when it has one. */
export interface Inspection {
  view: JobView | null;
  live: LiveCopy | null;
}

export function createJobInspector(deps: JobInspectorDeps) {
  const { queue, store } = deps;

  /**
   * A finished job's view. The record (`job`: read already, null when there is none,
   * undefined when not read) is read here only for outcomes stored without `maxAttempts`,
   * and for a job with a webhook (its outcome says so) none of whose attempts is recorded yet
   * (the URL is in the record until then).
   */
  async function finishedView(
    id: string,
    result: ResultDocument,
    job?: JobDocument | null,
  ): Promise<JobView> {
    const recordRead = job !== undefined || result.maxAttempts === undefined;
    const [record, attempts, delivery] = await Promise.all([
      job !== undefined || result.maxAttempts !== undefined ? (job ?? null) : store.findJob(id),
      mayHaveFailedRuns(result) ? store.findAttempts(id) : [],
      result.webhook ? store.findDelivery(id) : null,
    ]);
    const view = resultView(record, result, attempts);
    if (!result.webhook) return view;
    const deliveryId = deliveryIdOf(result);
    const url =
      delivery?.deliveryId === deliveryId
        ? delivery.url
        : (recordRead ? record : await store.findJob(id))?.callback;
    return url === undefined ? view : { ...view, webhook: webhookView(url, deliveryId, delivery) };
  }

  /** inspect's view once the outcome has been read, with the payload's text if a read had it. */
  async function viewOf(
    id: string,
    result: ResultDocument | null,
  ): Promise<Inspection & { text?: string | undefined; flow?: FlowSpec | undefined }> {
    if (result)
      return { view: await finishedView(id, result), live: null, text: result.payload, flow: result.flow };
    let job: JobDocument | null | undefined;
    const ref = await store.findQueueRef(id);
    let location: QueueLocation | null = ref;
    if (!location) {
      job = await store.findJob(id);
      if (!job) return { view: null, live: null };
      location = job.queue ?? null;
    }
    const live = await findLiveCopy(queue, id, location);
    if (live) {
      const { stats, envelope } = live;
      const ranBefore = envelope.requeued === true || stats.reserves > (stats.state === 'reserved' ? 1 : 0);
      const running = stats.state === 'reserved';
      const [attempts, reported] = await Promise.all([
        ranBefore ? store.findAttempts(id) : [],
        running ? store.findProgress(id) : null,
      ]);
      // Reported by this run (an earlier run's progress is not this one's).
      const progress = reported?.attempt === stats.reserves ? reported : null;
      const view: JobView = {
        id,
        type: envelope.type,
        createdAt: (job?.createdAt ?? jobIdTime(id)).toISOString(),
        maxAttempts: envelope.maxAttempts,
        ...(attempts.length > 0 ? { errors: attemptViews(attempts) } : {}),
        // A waiter is the job waiting for its parents, whatever beanstalkd does with it.
        state: stateOfCopy(live),
        attempts: stats.reserves,
        // A held copy's beanstalkd delay is its accept hold (ended by the kick); only jobs
        // without a delay of their own are held.
        queue: { ...liveView(stats), ...(envelope.held ? { delay: 0 } : {}) },
        ...(envelope.callback !== undefined ? { webhook: webhookView(envelope.callback) } : {}),
        ...(envelope.schedule !== undefined ? { schedule: envelope.schedule } : {}),
        ...(envelope.group !== undefined ? { group: envelope.group } : {}),
        ...(progress
          ? {
              progress: {
                percent: progress.percent,
                ...(progress.data !== undefined ? { data: progress.data } : {}),
                at: progress.at.toISOString(),
              },
            }
          : {}),
      };
      return { view, live, text: envelope.payload, flow: envelope.flow };
    }
    if (location) {
      // Gone from beanstalkd: it may have finished between our reads.
      const late = await store.findResult(id);
      if (late) {
        return {
          view: await finishedView(id, late, job),
          live: null,
          text: late.payload ?? job?.payload,
          flow: late.flow,
        };
      }
    }
    if (job === undefined) job = await store.findJob(id);
    if (!job) return { view: null, live: null };
    const attempts = await store.findAttempts(id);
    const view: JobView = {
      id,
      type: job.type,
      createdAt: job.createdAt.toISOString(),
      maxAttempts: job.options.maxAttempts,
      ...(attempts.length > 0 ? { errors: attemptViews(attempts) } : {}),
      state: 'queued',
      attempts: attempts.length,
      queue: null,
      ...(job.callback !== undefined ? { webhook: webhookView(job.callback) } : {}),
      ...(job.schedule !== undefined ? { schedule: job.schedule } : {}),
      ...(job.group !== undefined ? { group: job.group } : {}),
    };
    return { view, live: null, text: job.payload, flow: job.flow };
  }

  /** A parent's state now: its outcome, else its live copy's, else `queued` (recorded, not found in beanstalkd). */
  async function parentState(id: string): Promise<JobState> {
    const result = await store.findResult(id);
    if (result) return result.outcome;
    const live = await findLiveCopy(queue, id, await store.findQueueRef(id));
    if (!live) return (await store.findResult(id))?.outcome ?? 'queued';
    return stateOfCopy(live);
  }

  /** The view with its parents' states (at most MAX_PARENTS, a few point reads each). */
  async function withParents(view: JobView, flow: FlowSpec): Promise<JobView> {
    // A group's completion job has no parents: its group is the one thing it waits for.
    if (flow.afterGroup !== undefined) return { ...view, onCompleteOf: flow.afterGroup };
    const states = await mapConcurrently(flow.dependsOn, POINT_READS_IN_FLIGHT, parentState);
    return {
      ...view,
      dependsOn: flow.dependsOn.map((id, i) => ({ id, state: states[i] ?? 'queued' })),
      onParentFailure: flow.onParentFailure,
    };
  }

  return {
    /**
     * The job's view, and its live copy in beanstalkd when it has one. Every read is a point
     * read by the job's id, and only those the answer needs: a finished job costs one (its
     * outcome), a queued or running one its outcome's miss, its queue reference and
     * beanstalkd's stats-job and peek (the envelope gives type and attempt budget); the record
     * is read only when nothing else locates the job, and the failed runs only when there may
     * be some. With `withPayload`, the payload comes from what was read already — the outcome
     * (which carries payloads up to RESULT_PAYLOAD_BYTES), the live copy's envelope, or the
     * record — and the record is read for it only when none of them had it.
     */
    async inspect(id: string, withPayload: boolean): Promise<Inspection> {
      const { view: found, live, text, flow } = await viewOf(id, await store.findResult(id));
      const view = found && flow ? await withParents(found, flow) : found;
      if (!view || !withPayload) return { view, live };
      const payload = text ?? (await store.findJob(id))?.payload;
      return { view: payload === undefined ? view : { ...view, payload: payloadValue(payload) }, live };
    },
  };
}

export type JobInspector = ReturnType<typeof createJobInspector>;
