/**
 * A worker's webhook deliveries: `concurrency` lanes, each with its own beanstalkd connection
 * watching only the webhook tube (a reserve blocks its connection, docs/facts.md "jackd
 * 2.2.2"). A lane reserves a delivery; skips it when `deliveries/<job id>` says it was made
 * already (a duplicate enqueue); else POSTs it, signed, touching it while the POST runs;
 * records the attempt by `_id`; then deletes it (2xx), releases it with backoff, or — its
 * attempts spent — buries it as given up. A crash at any point leaves the delivery reserved by
 * a closed connection: beanstalkd hands it out again, under the same delivery id.
 */
import { createNaps } from '../jobs/naps.js';
import type { Logger } from '../log.js';
import {
  type ConnectionOptions,
  type Consumer,
  connectionTo,
  createConsumer,
  type ReservedJob,
} from '../queue/index.js';
import type { Deliveries, DeliveryDocument, Outcomes } from '../store/index.js';
import { urlForLogs } from './address-policy.js';
import { type RetrySchedule, retryDelaySeconds } from './backoff.js';
import { type AttemptResult, deliver, type Resolver } from './deliver.js';
import {
  DELIVERY_PRIORITY,
  DELIVERY_TTR_SECONDS,
  type DeliveryJob,
  decodeDeliveryJob,
  deliveryIdOf,
  webhookTube,
} from './delivery-job.js';
import { deliveryHeaders } from './sign.js';

export interface DeliveryLoopConfig {
  /** Timeouts (and the host and port when `servers` is absent) of the lanes' connections. */
  connection: ConnectionOptions;
  /** Each server's `host:port`: deliveries are put on any of them, and each gets `concurrency` lanes. */
  servers?: readonly string[];
  tubePrefix: string;
  concurrency: number;
  /** WEBHOOK_SECRET: required (a worker without one runs no loop). */
  secret: string;
  allowPrivate: boolean;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  schedule: RetrySchedule;
  reserveTimeoutSeconds: number;
}

/** How deliveries went, for the worker's /metrics. */
export interface DeliveryMetrics {
  /** One attempt's result; `endToDeliveryMs`: from the job's end to this 2xx. */
  attempt(result: 'delivered' | 'failed' | 'gave_up', endToDeliveryMs?: number): void;
}

export interface DeliveryLoopDeps {
  store: Deliveries & Pick<Outcomes, 'findResult'>;
  log: Logger;
  metrics?: DeliveryMetrics;
  /** Tests: how host names resolve (dns.lookup otherwise). */
  resolve?: Resolver;
}

export interface DeliveryLoop {
  /** Stops reserving; deliveries in flight may finish within `graceMs`, the rest go back. Idempotent. */
  stop(graceMs: number): Promise<void>;
}

/** How long a delivery waits after the store could not be read or written. */
const STORE_RETRY_DELAY_S = 5;
/** A delivery put before its outcome waits this long between looks for it. */
const CONFIRM_RETRY_DELAY_S = 2;
/**
 * Past this since it was put, a delivery whose outcome never landed is dropped: the cancel
 * that announced it failed (its client was answered an error).
 */
const CONFIRM_GIVE_UP_MS = 10 * 60_000;
/** A POST may outlast the delivery's TTR (timeouts are settings): touch it this often. */
const TOUCH_EVERY_MS = (DELIVERY_TTR_SECONDS * 1000) / 4;

function backoffMs(failures: number): number {
  return Math.min(5_000, 100 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2);
}

export function startDeliveryLoop(config: DeliveryLoopConfig, deps: DeliveryLoopDeps): DeliveryLoop {
  if (config.secret === '') throw new Error('webhook deliveries need WEBHOOK_SECRET');
  const tube = webhookTube(config.tubePrefix);
  const log = deps.log.child({ task: 'webhooks' });
  let stopping = false;
  const consumers: Consumer[] = [];
  const inReserve = new Set<Consumer>();
  const naps = createNaps();

  const quietly = (what: string, action: () => Promise<unknown>, jobLog: Logger) =>
    action().catch((error: unknown) => jobLog.warn({ err: error }, `could not ${what}`));

  async function attempt(consumer: Consumer, job: ReservedJob): Promise<void> {
    const delivery = decodeDeliveryJob(job.body);
    if (!delivery) {
      log.warn({ beanstalkId: job.beanstalkId }, 'burying a webhook delivery whose body is not one of ours');
      await quietly('bury the delivery', () => consumer.bury(job.beanstalkId, 2 ** 31), log);
      return;
    }
    const { jobId, deliveryId, url, event } = delivery;
    const jobLog = log.child({ jobId, deliveryId, callback: urlForLogs(url) });
    let record: DeliveryDocument | null;
    try {
      record = await deps.store.findDelivery(jobId);
    } catch (error: unknown) {
      jobLog.warn({ err: error }, 'could not read the delivery record; trying the delivery later');
      await quietly(
        'release the delivery',
        () => consumer.release(job.beanstalkId, { priority: DELIVERY_PRIORITY, delay: STORE_RETRY_DELAY_S }),
        jobLog,
      );
      return;
    }
    if (delivery.confirm && !(await confirmed(consumer, job, delivery, jobLog))) return;
    const earlier = record?.deliveryId === deliveryId ? record : null;
    if (earlier?.delivered) {
      jobLog.info('webhook already delivered; dropping the duplicate');
      await quietly('delete the duplicate delivery', () => consumer.delete(job.beanstalkId), jobLog);
      return;
    }
    const attempts = (earlier?.attempts ?? 0) + 1;
    const body = JSON.stringify(event);
    const headers = deliveryHeaders({ secret: config.secret, body, deliveryId, now: new Date() });
    const toucher = setInterval(() => {
      consumer.touch(job.beanstalkId).catch(() => undefined);
    }, TOUCH_EVERY_MS);
    let result: AttemptResult;
    try {
      result = await deliver(url, body, headers, {
        connectTimeoutMs: config.connectTimeoutMs,
        responseTimeoutMs: config.responseTimeoutMs,
        allowPrivate: config.allowPrivate,
        ...(deps.resolve ? { resolve: deps.resolve } : {}),
      });
    } finally {
      clearInterval(toucher);
    }
    const now = new Date();
    const gaveUp = !result.delivered && attempts >= config.schedule.maxAttempts;
    try {
      await deps.store.saveDelivery({
        _id: jobId,
        deliveryId,
        url,
        attempts,
        lastStatus: result.status,
        firstAttemptAt: earlier?.firstAttemptAt ?? now,
        lastAttemptAt: now,
        delivered: result.delivered,
        ...(gaveUp ? { gaveUp: true } : {}),
      });
    } catch (error: unknown) {
      // The attempt stands (a 2xx is not sent again for this); GET shows the previous one.
      jobLog.warn({ err: error, attempts }, 'could not record the delivery attempt');
    }
    const fields = { attempts, status: result.status, durationMs: result.durationMs };
    if (result.delivered) {
      deps.metrics?.attempt('delivered', now.getTime() - Date.parse(event.finishedAt));
      jobLog.info(fields, 'webhook delivered');
      await quietly('delete the delivered delivery', () => consumer.delete(job.beanstalkId), jobLog);
    } else if (gaveUp) {
      deps.metrics?.attempt('gave_up');
      jobLog.error(
        { ...fields, maxAttempts: config.schedule.maxAttempts },
        'webhook gave up: attempts spent; the delivery is buried (kick it to try again)',
      );
      await quietly('bury the delivery', () => consumer.bury(job.beanstalkId, 2 ** 31), jobLog);
    } else {
      deps.metrics?.attempt('failed');
      const delay = retryDelaySeconds(attempts, config.schedule);
      jobLog.warn({ ...fields, retryInSeconds: delay }, 'webhook attempt failed');
      await quietly(
        'release the delivery',
        () => consumer.release(job.beanstalkId, { priority: DELIVERY_PRIORITY, delay }),
        jobLog,
      );
    }
  }

  /**
   * Whether the outcome a delivery put before it (a cancel's) is the one stored; if not, the
   * delivery has been released to look again later, or deleted for good.
   */
  async function confirmed(
    consumer: Consumer,
    job: ReservedJob,
    delivery: DeliveryJob,
    jobLog: Logger,
  ): Promise<boolean> {
    let stored: Awaited<ReturnType<Outcomes['findResult']>>;
    try {
      stored = await deps.store.findResult(delivery.jobId);
    } catch (error: unknown) {
      jobLog.warn({ err: error }, 'could not read the outcome; trying the delivery later');
      await quietly(
        'release the delivery',
        () => consumer.release(job.beanstalkId, { priority: DELIVERY_PRIORITY, delay: STORE_RETRY_DELAY_S }),
        jobLog,
      );
      return false;
    }
    if (stored && deliveryIdOf(stored) === delivery.deliveryId) return true;
    if (stored) {
      // Another outcome stands (the job ended first): its own delivery announces it.
      jobLog.info({ stored: stored.outcome }, 'dropping a webhook whose outcome lost to another');
      await quietly('delete the delivery', () => consumer.delete(job.beanstalkId), jobLog);
      return false;
    }
    if (Date.now() - Date.parse(delivery.event.finishedAt) > CONFIRM_GIVE_UP_MS) {
      jobLog.warn('dropping a webhook whose outcome was never stored (its cancel failed)');
      await quietly('delete the delivery', () => consumer.delete(job.beanstalkId), jobLog);
      return false;
    }
    await quietly(
      'release the delivery',
      () => consumer.release(job.beanstalkId, { priority: DELIVERY_PRIORITY, delay: CONFIRM_RETRY_DELAY_S }),
      jobLog,
    );
    return false;
  }

  async function lane(consumer: Consumer): Promise<void> {
    let failures = 0;
    while (!stopping) {
      let job: ReservedJob | null;
      inReserve.add(consumer);
      try {
        job = await consumer.reserve(config.reserveTimeoutSeconds);
        failures = 0;
      } catch (error: unknown) {
        if (stopping) break;
        failures += 1;
        if (failures === 1) log.warn({ err: error }, 'beanstalkd unavailable for webhooks; retrying');
        await naps.nap(backoffMs(failures));
        continue;
      } finally {
        inReserve.delete(consumer);
      }
      if (!job) continue;
      try {
        await attempt(consumer, job);
      } catch (error: unknown) {
        // Never the lane's end: the delivery goes back to beanstalkd with its connection if need be.
        log.error({ err: error }, 'webhook delivery failed unexpectedly');
      }
    }
  }

  const servers = config.servers ?? [`${config.connection.host}:${config.connection.port}`];
  const lanes = servers
    .flatMap((server) => Array.from({ length: config.concurrency }, () => server))
    .map((server) => {
      const consumer = createConsumer({ ...connectionTo(server, config.connection), tubes: [tube] });
      consumers.push(consumer);
      return lane(consumer);
    });
  log.info({ tube, concurrency: config.concurrency }, 'webhook deliveries started');

  let stopped: Promise<void> | undefined;
  return {
    stop(graceMs) {
      stopped ??= (async () => {
        stopping = true;
        naps.wakeAll();
        // A lane waiting in reserve holds nothing: closing its connection ends the wait now.
        for (const consumer of inReserve) void consumer.close();
        await Promise.race([
          Promise.all(lanes),
          new Promise((resolve) => setTimeout(resolve, graceMs).unref()),
        ]);
        // Deliveries still in flight go back to ready with their connections.
        await Promise.all(consumers.map((consumer) => consumer.close()));
      })();
      return stopped;
    },
  };
}
