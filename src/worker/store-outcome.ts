/**
 * How a run's outcome is written: the one outcome document (`outcomeDoc`), stored with its
 * marks and its webhook's delivery queued (`storeOutcome`), touching the job while the write
 * runs and releasing it for later when the write fails or does not settle in time.
 */
import type { Envelope } from '../jobs/envelope.js';
import type { Logger } from '../log.js';
import { type Consumer, isQueueError, type ReservedJob } from '../queue/index.js';
import { markResult, type Outcomes, RESULT_PAYLOAD_BYTES, type ResultDocument } from '../store/index.js';
import type { EnqueueDelivery } from '../webhooks/enqueue.js';
import { touchIntervalMs } from './run-handler.js';

/** What writing an outcome needs of a slot's dependencies. */
export interface OutcomeWriteDeps {
  consumer: Consumer;
  store: Outcomes;
  workerName: string;
  /**
   * How long the outcome write (with its retries) may take before the job is released for
   * later and the slot moves on, whatever the write is stuck on.
   */
  outcomeDeadlineMs: number;
  /** Told whether the store took the last write, to log outages once. */
  noteStore?: (ok: boolean, error?: unknown) => void;
  /**
   * Queues the webhook of a job with a callback URL once its outcome is stored (or found
   * stored), before the job leaves beanstalkd; a failure releases the job for later.
   */
  enqueueDelivery?: EnqueueDelivery;
}

/** How long a job waits in beanstalkd after its outcome could not be stored. */
const STORE_RETRY_RELEASE_DELAY_S = 5;

/**
 * Marks an outcome where listings look for it (store/groups/group-marks.ts): a group job's in its
 * group, a failed job's among the failed. The outcome this run stored, or, for a redelivered
 * job, the one stored before (its first worker may have died before marking it). Answers
 * that outcome (null: none is stored any more, a retry took it back).
 */
async function markEnded(
  deps: OutcomeWriteDeps,
  envelope: Envelope,
  doc: ResultDocument,
  duplicate: boolean,
): Promise<ResultDocument | null> {
  if (envelope.group === undefined && doc.outcome !== 'failed' && !duplicate) return doc;
  const stored = duplicate ? await deps.store.findResult(doc._id) : doc;
  if (!stored) return null;
  const mark = {
    id: stored._id,
    state: stored.outcome,
    at: stored.finishedAt,
    startedAt: stored.startedAt,
    ...(stored.error ? { error: stored.error.message } : {}),
  };
  if (envelope.group !== undefined) {
    await deps.store.markGroupJob(envelope.group, { ...mark, ...markResult(stored.result) });
  }
  if (stored.outcome === 'failed') {
    await deps.store.markState('failed', {
      ...mark,
      type: stored.type,
      ...(envelope.group !== undefined ? { group: envelope.group } : {}),
    });
  }
  return stored;
}

/** The outcome's insert, its marks, and its webhook's delivery queued: `found` when one was stored before. */
async function writeOutcome(
  deps: OutcomeWriteDeps,
  envelope: Envelope,
  doc: ResultDocument,
  log: Logger,
): Promise<'stored' | 'found'> {
  const stored = await deps.store.saveResult(doc);
  deps.noteStore?.(true);
  if (stored === 'duplicate')
    log.info({ attempt: doc.attempt }, 'outcome was already stored (redelivered job)');
  else
    log.debug({ attempt: doc.attempt, outcome: doc.outcome, durationMs: doc.durationMs }, 'outcome stored');
  const ended = await markEnded(deps, envelope, doc, stored === 'duplicate');
  // The outcome this run stored, or the one stored before (its worker may have died before
  // queueing the delivery): a duplicate enqueue carries the same delivery id.
  if (ended && envelope.callback !== undefined) await deps.enqueueDelivery?.(ended, envelope.callback);
  return stored === 'duplicate' ? 'found' : 'stored';
}

/**
 * Stores an outcome (and marks it in its group, or among the failed): `stored`, or `found` when
 * the job already had one (an earlier delivery's, which stands); false (job released for later) when
 * MongoDB would not take it, or did not answer within `outcomeDeadlineMs`. The job is touched
 * while it waits: beanstalkd 1.12 may never time out a job whose connection stays quiet
 * (docs/facts.md), so a job must never sit reserved and silent on an answer that may not come.
 */
export async function storeOutcome(
  deps: OutcomeWriteDeps,
  job: ReservedJob,
  envelope: Envelope,
  doc: ResultDocument,
  log: Logger,
  ttrSeconds: number,
): Promise<'stored' | 'found' | false> {
  const toucher = setInterval(() => {
    deps.consumer.touch(job.beanstalkId).catch(() => undefined);
  }, touchIntervalMs(ttrSeconds));
  let timer: NodeJS.Timeout | undefined;
  // One promise for the write and its deadline (every job comes here): a write that answers
  // after the deadline settles nothing and goes unobserved, never unhandled. The write starts
  // first, so that the tally's own deadline for its insert (as long as this one) comes first
  // and names what did not answer.
  const settled = new Promise<'stored' | 'found' | 'late'>((resolve, reject) => {
    writeOutcome(deps, envelope, doc, log).then(resolve, reject);
    timer = setTimeout(() => resolve('late'), deps.outcomeDeadlineMs);
  });
  try {
    const written = await settled;
    if (written === 'late') {
      log.error(
        { attempt: doc.attempt, waitedMs: deps.outcomeDeadlineMs },
        'the outcome write did not settle in time; releasing the job for later',
      );
      await releaseForLater(deps, job);
      return false;
    }
    return written;
  } catch (error: unknown) {
    // Only the webhook's put talks to beanstalkd here; everything else is the store.
    if (isQueueError(error)) {
      log.warn({ err: error }, 'could not queue the webhook delivery; releasing the job for later');
    } else {
      deps.noteStore?.(false, error);
      log.warn(
        { err: error },
        'could not store the outcome (or its group mark); releasing the job for later',
      );
    }
    await releaseForLater(deps, job);
    return false;
  } finally {
    clearInterval(toucher);
    clearTimeout(timer);
  }
}

export function releaseForLater(deps: OutcomeWriteDeps, job: ReservedJob): Promise<void> {
  return deps.consumer
    .release(job.beanstalkId, { priority: 0, delay: STORE_RETRY_RELEASE_DELAY_S })
    .catch(() => undefined);
}

/** The outcome document of this run, finished now. */
export function outcomeDoc(
  deps: OutcomeWriteDeps,
  envelope: Envelope,
  attempt: number,
  startedAt: Date,
  ending: Pick<ResultDocument, 'outcome' | 'result' | 'error'>,
): ResultDocument {
  const finishedAt = new Date();
  const doc: ResultDocument = {
    _id: envelope.id,
    type: envelope.type,
    outcome: ending.outcome,
    worker: deps.workerName,
    attempt,
    maxAttempts: envelope.maxAttempts,
    startedAt,
    finishedAt,
    durationMs: finishedAt.getTime() - startedAt.getTime(),
  };
  // Optional fields set one by one, absent when unset: a spread of a conditional object each
  // made that many more objects per job for the collector.
  if (ending.result !== undefined) doc.result = ending.result;
  if (ending.error !== undefined) doc.error = ending.error;
  if (envelope.requeued) doc.requeued = true;
  if (envelope.group !== undefined) doc.group = envelope.group;
  if (envelope.schedule !== undefined) doc.schedule = envelope.schedule;
  if (envelope.flow !== undefined) doc.flow = envelope.flow;
  if (envelope.callback !== undefined) doc.webhook = true;
  // Read back by GET with the outcome, instead of a second read of the job's record.
  if (
    envelope.payload.length <= RESULT_PAYLOAD_BYTES &&
    Buffer.byteLength(envelope.payload) <= RESULT_PAYLOAD_BYTES
  )
    doc.payload = envelope.payload;
  return doc;
}
