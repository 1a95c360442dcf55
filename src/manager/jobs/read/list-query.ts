/**
 * The query of `GET /jobs`, read and checked before any store is touched: the filters (state,
 * type, group, creation time), the page size, and the cursor an earlier page handed out.
 * Every bad value is an INVALID_QUERY. The walk that builds a page is listing.ts.
 */
import { AppError, ErrorCode } from '../../../errors.js';
import { JOB_TYPE } from '../../../handlers/index.js';
import { parseJobId } from '../../../jobs/job-id.js';
import { JOB_STATES, type JobState } from './views.js';

export const MAX_LIST_LIMIT = 500;
const DEFAULT_LIST_LIMIT = 50;
const STATES: readonly JobState[] = JOB_STATES;
const KNOWN_PARAMETERS = new Set([
  'state',
  'type',
  'group',
  'created_after',
  'created_before',
  'limit',
  'cursor',
]);

export interface ListQuery {
  state?: JobState;
  type?: string;
  group?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  limit: number;
  cursor?: LogPosition;
}

/** A place in the job log: the jobs of segment `n` below index `index`, then older segments. */
export interface LogPosition {
  n: number;
  index: number;
}

const CURSOR = /^(\d{1,15})\.(\d{1,6})$/;

/** A position as the `nextCursor` of a page: "n.index". */
export function formatCursor(position: LogPosition): string {
  return `${position.n}.${position.index}`;
}

/** The position a `cursor` parameter names; anything formatCursor could not have made is refused. */
export function parseCursor(text: string): LogPosition {
  const match = CURSOR.exec(text);
  if (!match) throw invalid('cursor must be the nextCursor of an earlier page');
  return { n: Number(match[1]), index: Number(match[2]) };
}

function invalid(message: string): AppError {
  return new AppError(ErrorCode.INVALID_QUERY, message);
}

function date(name: string, text: string): Date {
  const value = new Date(text);
  const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!day || Number.isNaN(value.getTime())) throw invalid(`${name} must be an ISO 8601 time`);
  // Node reads 2024-02-30 as March 1st: a day past its month's end is refused, not moved.
  const [year, month, dayOfMonth] = day.slice(1).map(Number) as [number, number, number];
  if (dayOfMonth > new Date(Date.UTC(year, month, 0)).getUTCDate())
    throw invalid(`${name} must be an ISO 8601 time (${text.slice(0, 10)} is not a day)`);
  return value;
}

/**
 * The query string's parameters, each read once: a name not in `known`, or one given more than
 * once, is an INVALID_QUERY (shared by GET /jobs and GET /groups).
 */
export function queryParameters(
  query: Readonly<Record<string, string | string[] | undefined>>,
  known: ReadonlySet<string>,
): (name: string) => string | undefined {
  const unknown = Object.keys(query).filter((name) => !known.has(name));
  if (unknown.length > 0) throw invalid(`unknown query parameter(s): ${unknown.join(', ')}`);
  return (name) => {
    const value = query[name];
    if (Array.isArray(value)) throw invalid(`${name} is given more than once`);
    return value;
  };
}

/** A page size: a whole number from 1 to `max`; `fallback` when not given. */
export function parseLimit(text: string | undefined, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw invalid(`limit must be an integer from 1 to ${max}`);
  }
  return Number(text);
}

/** Reads and checks the query string of GET /jobs. */
export function parseListQuery(query: Readonly<Record<string, string | string[] | undefined>>): ListQuery {
  const one = queryParameters(query, KNOWN_PARAMETERS);
  const result: ListQuery = { limit: parseLimit(one('limit'), MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT) };
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
  const group = one('group');
  if (group !== undefined) {
    const id = parseJobId(group);
    if (id === null) throw invalid('group must be a UUIDv7');
    result.group = id;
  }
  const cursor = one('cursor');
  if (cursor !== undefined) result.cursor = parseCursor(cursor);
  const after = one('created_after');
  if (after !== undefined) result.createdAfter = date('created_after', after);
  const before = one('created_before');
  if (before !== undefined) result.createdBefore = date('created_before', before);
  return result;
}
