/** How a job is shown over HTTP: its state derived from its outcome, else from beanstalkd. */

import { jobIdTime } from '../../../jobs/job-id.js';
import type { JobStats } from '../../../queue/index.js';
import type {
  AttemptEntry,
  DeliveryDocument,
  JobDocument,
  ParentFailurePolicy,
  ResultDocument,
} from '../../../store/index.js';

/** The states of a job with no outcome yet, in its order of life. */
export const UNFINISHED_STATES = ['waiting', 'queued', 'delayed', 'running', 'buried'] as const;
/** Every state, in a job's order of life (the listing's filter, the OpenAPI enums). */
export const JOB_STATES = [...UNFINISHED_STATES, 'completed', 'failed', 'cancelled'] as const;

export type JobState = (typeof JOB_STATES)[number];

export interface AcceptedJob {
  id: string;
  state: JobState;
  type: string;
  createdAt: string;
}

/** beanstalkd's live view of a job (stats-job fields, camelCase; seconds). */
export interface LiveQueueView {
  tube: string;
  priority: number;
  age: number;
  delay: number;
  ttr: number;
  timeLeft: number;
  reserves: number;
  timeouts: number;
  releases: number;
  buries: number;
  kicks: number;
}

export interface AttemptView {
  attempt: number;
  worker: string;
  error: string;
  at: string;
}

export interface JobView {
  id: string;
  type: string;
  state: JobState;
  createdAt: string;
  attempts: number;
  maxAttempts?: number;
  /** While beanstalkd holds the job; null when it is recorded but beanstalkd has no copy. */
  queue?: LiveQueueView | null;
  result?: Record<string, unknown>;
  error?: { message: string };
  /** Each failed run: which worker, when, and why. */
  errors?: AttemptView[];
  worker?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** The payload as sent, parsed from its stored text (GET leaves it out with `?payload=false`). */
  payload?: unknown;
  /** Jobs with a callback URL: where their end is POSTed, and how that went. */
  webhook?: WebhookView;
  /** While it runs: what its handler last reported (`context.progress`), stored at most once a second. */
  progress?: ProgressView;
  /** A schedule's tick job: which schedule enqueued it, for which tick. */
  schedule?: { name: string; tick: string };
  /** A job with `depends_on`: each parent's state now (docs/flows-design.md). */
  dependsOn?: ParentView[];
  /** Its `on_parent_failure` policy, with `dependsOn`. */
  onParentFailure?: ParentFailurePolicy;
  /** A group's completion job (`on_complete`): the group whose end it runs after. */
  onCompleteOf?: string;
  /** A matrix's job: its group (`GET /groups/<id>`). */
  group?: string;
}

/** A parent of a flow's job, and its state when read. */
export interface ParentView {
  id: string;
  state: JobState;
}

export interface ProgressView {
  percent: number;
  data?: unknown;
  at: string;
}

/** A job's webhook: its URL; once the job ended, its delivery's id and attempts so far. */
export interface WebhookView {
  url: string;
  /** The X-DW-Delivery of this end's delivery (absent until the job ends). */
  deliveryId?: string;
  attempts: number;
  /** The last attempt's HTTP status, or why it had none (`timeout`, `refused`, `private_address`, …). */
  lastStatus?: number | string;
  lastAttemptAt?: string;
  delivered: boolean;
  /** The attempts ran out (WEBHOOK_MAX_ATTEMPTS): the delivery is buried. */
  gaveUp?: boolean;
}

/**
 * The webhook of a job with `url`: `deliveryId` once it ended, with the attempts `record`
 * holds if they are that delivery's (a record of an earlier end, before a retry, is not).
 */
export function webhookView(url: string, deliveryId?: string, record?: DeliveryDocument | null): WebhookView {
  if (deliveryId === undefined) return { url, attempts: 0, delivered: false };
  if (!record || record.deliveryId !== deliveryId) return { url, deliveryId, attempts: 0, delivered: false };
  return {
    url: record.url,
    deliveryId,
    attempts: record.attempts,
    lastStatus: record.lastStatus,
    lastAttemptAt: record.lastAttemptAt.toISOString(),
    delivered: record.delivered,
    ...(record.gaveUp ? { gaveUp: true } : {}),
  };
}

export const STATE_OF_QUEUE: Readonly<Record<JobStats['state'], JobState>> = {
  ready: 'queued',
  delayed: 'delayed',
  reserved: 'running',
  buried: 'buried',
};

export function attemptViews(attempts: readonly AttemptEntry[]): AttemptView[] {
  return attempts.map((a) => ({
    attempt: a.attempt,
    worker: a.worker,
    error: a.error,
    at: a.at.toISOString(),
  }));
}

/**
 * Whether a finished job may have failed runs on record. Only a first-attempt completion of a
 * copy never put again certainly has none: GET skips that read then.
 */
export function mayHaveFailedRuns(result: ResultDocument): boolean {
  return result.outcome !== 'completed' || result.attempt > 1 || result.requeued === true;
}

export function resultView(
  job: JobDocument | null,
  result: ResultDocument,
  attempts: readonly AttemptEntry[],
): JobView {
  const maxAttempts = result.maxAttempts ?? job?.options.maxAttempts;
  const schedule = result.schedule ?? job?.schedule;
  const group = result.group ?? job?.group;
  return {
    id: result._id,
    type: result.type,
    state: result.outcome,
    createdAt: (job?.createdAt ?? jobIdTime(result._id)).toISOString(),
    attempts: result.attempt,
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...(result.result !== undefined ? { result: result.result } : {}),
    ...(result.error !== undefined ? { error: result.error } : {}),
    ...(attempts.length > 0 ? { errors: attemptViews(attempts) } : {}),
    worker: result.worker,
    startedAt: result.startedAt.toISOString(),
    finishedAt: result.finishedAt.toISOString(),
    durationMs: result.durationMs,
    ...(schedule !== undefined ? { schedule: { name: schedule.name, tick: schedule.tick } } : {}),
    ...(group !== undefined ? { group } : {}),
  };
}

/**
 * A job's payload as a JSON value, from the exact text stored at accept (valid JSON, checked
 * then). Parsing is lossy only where JSON.parse is: duplicate keys keep the last, numbers
 * beyond double precision are rounded (1e400 shows as null); the stored text is untouched.
 */
export function payloadValue(text: string): unknown {
  return JSON.parse(text);
}

export function liveView(stats: JobStats): LiveQueueView {
  const { tube, priority, age, delay, ttr, timeLeft, reserves, timeouts, releases, buries, kicks } = stats;
  return { tube, priority, age, delay, ttr, timeLeft, reserves, timeouts, releases, buries, kicks };
}
