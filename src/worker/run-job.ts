/**
 * One reserved job, start to end: check the body, run the handler, store the one outcome,
 * then delete the job from beanstalkd — never before the outcome is stored. Never throws:
 * whatever goes wrong ends in a log line and the job buried, released or left to beanstalkd.
 */
import { errorMessage } from '../errors.js';
import type { HandlerRegistry } from '../handlers/index.js';
import { decodeEnvelope } from '../jobs/envelope.js';
import type { Logger } from '../log.js';
import { type Consumer, isQueueError, QueueErrorCode, type ReservedJob } from '../queue/index.js';
import { Outcome, type ResultDocument, type Store } from '../store/index.js';

export interface RunJobDeps {
  consumer: Consumer;
  store: Store;
  handlers: HandlerRegistry;
  log: Logger;
  workerName: string;
  /** Simulated work before the handler runs, in ms (0 for none). */
  pickWorkDelayMs: () => number;
  /** Aborted when the worker is forced to stop. */
  signal: AbortSignal;
}

/** Priority for jobs we bury: lower than anything a client sends by default. */
const BURY_PRIORITY = 2 ** 31;
/** How long a job waits in beanstalkd after its outcome could not be stored. */
const STORE_RETRY_RELEASE_DELAY_S = 5;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function runJob(job: ReservedJob, deps: RunJobDeps): Promise<void> {
  const { consumer, store, log } = deps;
  const envelope = decodeEnvelope(job.body);
  const handler = envelope ? deps.handlers.get(envelope.type) : undefined;
  if (!envelope || !handler) {
    const reason = envelope
      ? `no handler for type ${envelope.type}`
      : 'the job body is not a distributed-workers envelope';
    log.warn({ beanstalkId: job.beanstalkId, jobId: envelope?.id, reason }, 'burying a job that cannot run');
    await consumer.bury(job.beanstalkId, BURY_PRIORITY).catch((error: unknown) => {
      log.warn({ beanstalkId: job.beanstalkId, error: errorMessage(error) }, 'could not bury the job');
    });
    return;
  }
  const jobLog = log.child({ jobId: envelope.id, type: envelope.type });
  let attempt = 1;
  try {
    attempt = Math.max(1, (await consumer.statsJob(job.beanstalkId)).reserves);
  } catch (error: unknown) {
    // The connection went away: beanstalkd has already put the job back for another worker.
    jobLog.warn({ error: errorMessage(error) }, 'lost the job before starting it');
    return;
  }

  const startedAt = new Date();
  let outcome: Pick<ResultDocument, 'outcome' | 'result' | 'error'>;
  try {
    await sleep(deps.pickWorkDelayMs(), deps.signal);
    const payload: unknown = JSON.parse(envelope.payload);
    const result = await handler(payload, {
      jobId: envelope.id,
      type: envelope.type,
      attempt,
      rawPayload: envelope.payload,
      log: jobLog,
      signal: deps.signal,
    });
    outcome = { outcome: Outcome.COMPLETED, result };
  } catch (error: unknown) {
    jobLog.warn({ attempt, error: errorMessage(error) }, 'job failed');
    outcome = { outcome: Outcome.FAILED, error: { message: errorMessage(error).slice(0, 1000) } };
  }
  const finishedAt = new Date();

  const doc: ResultDocument = {
    _id: envelope.id,
    type: envelope.type,
    ...outcome,
    worker: deps.workerName,
    attempt,
    startedAt,
    finishedAt,
    durationMs: finishedAt.getTime() - startedAt.getTime(),
  };
  try {
    const stored = await store.saveResult(doc);
    if (stored === 'duplicate') jobLog.info({ attempt }, 'outcome was already stored (redelivered job)');
    else jobLog.debug({ attempt, outcome: doc.outcome, durationMs: doc.durationMs }, 'outcome stored');
  } catch (error: unknown) {
    jobLog.warn({ error: errorMessage(error) }, 'could not store the outcome; releasing the job for later');
    await consumer
      .release(job.beanstalkId, { priority: 0, delay: STORE_RETRY_RELEASE_DELAY_S })
      .catch(() => undefined);
    return;
  }
  try {
    await consumer.delete(job.beanstalkId);
  } catch (error: unknown) {
    if (isQueueError(error, QueueErrorCode.NOT_FOUND)) {
      // Its TTR passed and another worker holds it now; that worker will find the outcome stored.
      jobLog.info('job was no longer ours to delete (TTR passed); outcome kept');
    } else {
      jobLog.warn(
        { error: errorMessage(error) },
        'could not delete the job; a redelivery will find its outcome stored',
      );
    }
  }
}
