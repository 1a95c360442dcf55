/**
 * `GET /jobs`: jobs newest first, filtered by state, type, group and creation time, in pages
 * joined by a cursor (the last job id seen). Ids are time-ordered UUIDv7s and a page only
 * asks for ids below the cursor, so jobs added while a client pages through never shift the
 * pages: no duplicates, no gaps.
 *
 * A job's state is derived (its outcome, else beanstalkd's view), so filtering by state
 * reads pages of jobs and keeps the matching ones; one request examines at most ten pages'
 * worth, and answers with the cursor to go on from when it stopped early.
 */
import { AppError, ErrorCode } from '../errors.js';
import { JOB_TYPE } from '../handlers/index.js';
import { parseJobId } from '../jobs/job-id.js';
import type { QueueClient } from '../queue/index.js';
import type { JobDocument, Store } from '../store/index.js';
import { toServiceError } from './job-service.js';
import { type JobState, STATE_OF_QUEUE } from './job-views.js';
import { findLiveCopy, queueLocation } from './queue-location.js';

export const MAX_LIST_LIMIT = 500;
const STATES: readonly JobState[] = [
  'queued',
  'delayed',
  'running',
  'buried',
  'completed',
  'failed',
  'cancelled',
];

export interface ListQuery {
  state?: JobState;
  type?: string;
  group?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  limit: number;
  cursor?: string;
}

export interface JobSummary {
  id: string;
  type: string;
  state: JobState;
  createdAt: string;
  group?: string;
  finishedAt?: string;
}

function invalid(message: string): AppError {
  return new AppError(ErrorCode.INVALID_QUERY, message);
}

function date(name: string, text: string): Date {
  const value = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(value.getTime()))
    throw invalid(`${name} must be an ISO 8601 time`);
  return value;
}

/** Reads and checks the query string of GET /jobs. */
export function parseListQuery(query: Readonly<Record<string, string | string[] | undefined>>): ListQuery {
  const one = (name: string): string | undefined => {
    const value = query[name];
    if (Array.isArray(value)) throw invalid(`${name} is given more than once`);
    return value;
  };
  const known = new Set(['state', 'type', 'group', 'created_after', 'created_before', 'limit', 'cursor']);
  const unknown = Object.keys(query).filter((name) => !known.has(name));
  if (unknown.length > 0) throw invalid(`unknown query parameter(s): ${unknown.join(', ')}`);
  const result: ListQuery = { limit: 50 };
  const state = one('state');
  if (state !== undefined) {
    if (!(STATES as readonly string[]).includes(state))
      throw invalid(`state must be one of ${STATES.join(', ')}`);
    result.state = state as JobState;
  }
  const type = one('type');
  if (type !== undefined) {
    if (!JOB_TYPE.test(type)) throw invalid('type is not a job type');
    result.type = type;
  }
  for (const [name, key] of [
    ['group', 'group'],
    ['cursor', 'cursor'],
  ] as const) {
    const text = one(name);
    if (text === undefined) continue;
    const id = parseJobId(text);
    if (id === null) throw invalid(`${name} must be a UUIDv7`);
    result[key] = id;
  }
  const after = one('created_after');
  if (after !== undefined) result.createdAfter = date('created_after', after);
  const before = one('created_before');
  if (before !== undefined) result.createdBefore = date('created_before', before);
  const limit = one('limit');
  if (limit !== undefined) {
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIST_LIMIT) {
      throw invalid(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
    }
    result.limit = Number(limit);
  }
  return result;
}

export function createJobListing(deps: { queue: QueueClient; store: Store }) {
  const { queue, store } = deps;

  /** Live states of jobs without an outcome, from beanstalkd (checking each body's id). */
  async function liveStates(pending: readonly JobDocument[]): Promise<Map<string, JobState>> {
    const refs = await store.findQueueRefs(pending.map((job) => job._id));
    const states = new Map<string, JobState>();
    for (const job of pending) {
      const live = await findLiveCopy(queue, job._id, queueLocation(job, refs.get(job._id)));
      const state: JobState = live ? STATE_OF_QUEUE[live.stats.state] : 'queued';
      states.set(job._id, state);
    }
    return states;
  }

  return {
    async list(query: ListQuery): Promise<{ jobs: JobSummary[]; nextCursor: string | null }> {
      try {
        const jobs: JobSummary[] = [];
        let cursor = query.cursor;
        let scanned = 0;
        const wantsLive =
          query.state === undefined || ['queued', 'delayed', 'running', 'buried'].includes(query.state);
        while (scanned < query.limit * 10) {
          const page = await store.listJobs({
            ...(cursor !== undefined ? { beforeId: cursor } : {}),
            ...(query.type !== undefined ? { type: query.type } : {}),
            ...(query.group !== undefined ? { group: query.group } : {}),
            ...(query.createdAfter !== undefined ? { createdAfter: query.createdAfter } : {}),
            ...(query.createdBefore !== undefined ? { createdBefore: query.createdBefore } : {}),
            limit: query.limit,
          });
          if (page.length === 0) return { jobs, nextCursor: null };
          const outcomes = await store.findResults(page.map((job) => job._id));
          const live = wantsLive
            ? await liveStates(page.filter((job) => !outcomes.has(job._id)))
            : new Map<string, JobState>();
          for (const job of page) {
            const outcome = outcomes.get(job._id);
            const state = outcome?.outcome ?? live.get(job._id);
            cursor = job._id;
            if (state === undefined || (query.state !== undefined && state !== query.state)) continue;
            jobs.push({
              id: job._id,
              type: job.type,
              state,
              createdAt: job.createdAt.toISOString(),
              ...(job.group !== undefined ? { group: job.group } : {}),
              ...(outcome ? { finishedAt: outcome.finishedAt.toISOString() } : {}),
            });
            if (jobs.length === query.limit) return { jobs, nextCursor: job._id };
          }
          scanned += page.length;
          if (page.length < query.limit) return { jobs, nextCursor: null };
        }
        return { jobs, nextCursor: cursor ?? null };
      } catch (error: unknown) {
        throw toServiceError(error);
      }
    },
  };
}
