/** How a job is shown over HTTP: its state derived from its outcome, else from beanstalkd. */

import { jobIdTime } from '../../jobs/job-id.js';
import type { JobStats } from '../../queue/index.js';
import type { AttemptEntry, JobDocument, ResultDocument } from '../../store/index.js';

export type JobState = 'queued' | 'delayed' | 'running' | 'buried' | 'completed' | 'failed' | 'cancelled';

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
