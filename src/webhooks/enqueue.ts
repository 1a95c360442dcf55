/**
 * Puts the delivery of a stored outcome into the webhook tube. Called by the worker that
 * stored (or found stored) a job's outcome, before the job leaves beanstalkd, and by a
 * manager's cancel: whoever it is, a crash leaves either the job or its delivery in
 * beanstalkd. Enqueued twice, a delivery carries the same id twice; the delivery loop
 * delivers it once when it can tell, the receiver de-duplicates by X-DW-Delivery otherwise.
 */
import type { PutOptions } from '../queue/index.js';
import type { ResultDocument } from '../store/index.js';
import {
  DELIVERY_PRIORITY,
  DELIVERY_TTR_SECONDS,
  deliveryIdOf,
  encodeDeliveryJob,
  eventOf,
  webhookTube,
} from './delivery-job.js';

/** What enqueueing needs of beanstalkd: a put on any of its servers (a worker's or a manager's set). */
export interface DeliveryProducer {
  put(tube: string, body: string, options: PutOptions): Promise<unknown>;
}

/**
 * Enqueues the delivery of `outcome` to `url`. With `confirm`, the outcome is not stored yet:
 * the delivery waits `CONFIRM_DELAY_S`, and goes out only once it is (a cancel).
 */
export type EnqueueDelivery = (
  outcome: ResultDocument,
  url: string,
  options?: { confirm?: boolean },
) => Promise<void>;

/** How long a delivery put before its outcome waits before a worker first looks. */
export const CONFIRM_DELAY_S = 1;

/** Enqueues the delivery of `outcome` to `url`; rejects when beanstalkd did not take it. */
export function deliveryEnqueuer(queue: DeliveryProducer, tubePrefix: string): EnqueueDelivery {
  const tube = webhookTube(tubePrefix);
  return async (outcome, url, options = {}) => {
    const body = encodeDeliveryJob({
      jobId: outcome._id,
      deliveryId: deliveryIdOf(outcome),
      url,
      event: eventOf(outcome),
      ...(options.confirm ? { confirm: true } : {}),
    });
    await queue.put(tube, body, {
      priority: DELIVERY_PRIORITY,
      delay: options.confirm ? CONFIRM_DELAY_S : 0,
      ttr: DELIVERY_TTR_SECONDS,
    });
  };
}
