/**
 * A webhook delivery as beanstalkd holds it: the tube it waits in, its body (the callback URL,
 * the delivery id and the event, built once from the stored outcome so every attempt sends the
 * same bytes), and the delivery id itself. The event names the job, never its payload.
 */

import { isJsonObject, parseJsonObject } from '../json-object.js';
import type { ResultDocument } from '../store/index.js';

/**
 * The deliveries' tube, after the tube prefix. It starts with `_`, and a job type starts with a
 * letter (handlers/index.ts JOB_TYPE), so no job type's tube can ever be this one, and
 * jobs/queue-copy.ts `typeOfTube` reads no type from it.
 */
export const WEBHOOK_TUBE_NAME = '_webhooks';

export function webhookTube(prefix: string): string {
  return `${prefix}${WEBHOOK_TUBE_NAME}`;
}

/** Seconds a delivery worker may hold a delivery; it touches it while a slow POST runs. */
export const DELIVERY_TTR_SECONDS = 120;
/** After anything a client sends by default (1024), before the buried. */
export const DELIVERY_PRIORITY = 2048;

/** A result bigger than this (as JSON) is left out of the event: `resultOmitted: true`, read it with GET. */
export const MAX_EVENT_RESULT_BYTES = 8192;
/** An error message is cut to this many characters in the event. */
export const MAX_EVENT_ERROR_CHARS = 1000;

/** The JSON body POSTed to the callback URL. */
export interface WebhookEvent {
  /** The delivery id again (also the X-DW-Delivery header). */
  deliveryId: string;
  /** `job.completed`, `job.failed` or `job.cancelled`. */
  event: string;
  id: string;
  type: string;
  state: ResultDocument['outcome'];
  finishedAt: string;
  /** Which delivery of the job ended it (0 for a cancel before any run). */
  attempts: number;
  group?: string;
  result?: Record<string, unknown>;
  resultOmitted?: true;
  error?: { message: string };
}

export interface DeliveryJob {
  jobId: string;
  deliveryId: string;
  url: string;
  event: WebhookEvent;
  /**
   * Put before its outcome was stored (a cancel announces itself first, so that no crash
   * loses it): delivered only once the stored outcome is this one (delivery-loop.ts).
   */
  confirm?: true;
}

/**
 * The id of the delivery of one stored outcome: `<job id>.<state>.<finishedAt in ms>`. Whoever
 * enqueues it (the worker that stored the outcome, a later worker that found it stored, the
 * manager that cancelled) derives it from the same stored document, so duplicates share it;
 * a job failed, retried and failed again ends twice and is delivered twice, under two ids.
 */
export function deliveryIdOf(outcome: Pick<ResultDocument, '_id' | 'outcome' | 'finishedAt'>): string {
  return `${outcome._id}.${outcome.outcome}.${outcome.finishedAt.getTime()}`;
}

/** The event for a stored outcome: small, and never the payload. */
export function eventOf(outcome: ResultDocument): WebhookEvent {
  const deliveryId = deliveryIdOf(outcome);
  const event: WebhookEvent = {
    deliveryId,
    event: `job.${outcome.outcome}`,
    id: outcome._id,
    type: outcome.type,
    state: outcome.outcome,
    finishedAt: outcome.finishedAt.toISOString(),
    attempts: outcome.attempt,
    ...(outcome.group !== undefined ? { group: outcome.group } : {}),
  };
  if (outcome.result !== undefined) {
    if (Buffer.byteLength(JSON.stringify(outcome.result)) <= MAX_EVENT_RESULT_BYTES)
      event.result = outcome.result;
    else event.resultOmitted = true;
  }
  if (outcome.error !== undefined)
    event.error = { message: outcome.error.message.slice(0, MAX_EVENT_ERROR_CHARS) };
  return event;
}

export function encodeDeliveryJob(job: DeliveryJob): string {
  return JSON.stringify({ v: 1, ...job });
}

/** The delivery in a body from the webhook tube, or null when the body is not one. */
export function decodeDeliveryJob(body: string): DeliveryJob | null {
  const value = parseJsonObject(body);
  if (value === null) return null;
  const { v, jobId, deliveryId, url, event, confirm } = value;
  if (v !== 1 || typeof jobId !== 'string' || typeof deliveryId !== 'string' || typeof url !== 'string')
    return null;
  if (!isJsonObject(event)) return null;
  const { id, state } = event;
  if (id !== jobId || typeof state !== 'string') return null;
  return {
    jobId,
    deliveryId,
    url,
    event: value.event as WebhookEvent,
    ...(confirm === true ? { confirm: true } : {}),
  };
}
