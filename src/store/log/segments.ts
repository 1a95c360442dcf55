/**
 * A job-log segment as readers see it (LogSegment) and as stored: its jobs and their settled
 * outcomes as text, one line each (job-log.ts says why).
 */
import type { Outcome } from '../documents.js';

/** One job in a segment. */
export interface LogEntry {
  id: string;
  type: string;
  group?: string;
  /** The job's createdAt. */
  at: Date;
  /** The hash of its Idempotency-Key: the key sweep finds keys through the log. */
  key?: string;
}

/** A job's outcome as the settler found it; null for an entry whose record never landed. */
export type SettledEntry = { outcome: Outcome; finishedAt: Date } | null;

export interface LogSegment {
  _id: string;
  n: number;
  /** Ascending by id. */
  jobs: LogEntry[];
  /** Earliest and latest createdAt of its jobs (kept when retention empties it). */
  first: Date;
  last: Date;
  /** Tells a writer whose insert timed out whether it landed. */
  token: string;
  /** When it was appended (the writer's clock). */
  appendedAt: Date;
  /** Parallel to `jobs`, once every one of them has an outcome (or never got a record). */
  settled?: SettledEntry[];
}

/** A segment as stored: its jobs and their settled outcomes as text, one line each. */
export interface StoredSegment {
  _id: string;
  n: number;
  jobs: string;
  count: number;
  first: Date;
  last: Date;
  token: string;
  appendedAt: Date;
  /** Per job: `c|f|x finishedAtMs` (completed, failed, cancelled) or `-` (never recorded). */
  settled?: string;
}

const OUTCOME_LETTER: Readonly<Record<Outcome, string>> = { completed: 'c', failed: 'f', cancelled: 'x' };
const LETTER_OUTCOME: Readonly<Record<string, Outcome>> = { c: 'completed', f: 'failed', x: 'cancelled' };

function encodeEntries(jobs: readonly LogEntry[]): string {
  return jobs
    .map(
      (job) =>
        `${job.id} ${job.type} ${job.at.getTime()}${job.group !== undefined ? ` g:${job.group}` : ''}${job.key !== undefined ? ` k:${job.key}` : ''}`,
    )
    .join('\n');
}

function decodeEntries(text: string): LogEntry[] {
  if (text === '') return [];
  return text.split('\n').map((line) => {
    const [id = '', type = '', at = '0', ...rest] = line.split(' ');
    const entry: LogEntry = { id, type, at: new Date(Number(at)) };
    for (const field of rest) {
      if (field.startsWith('g:')) entry.group = field.slice(2);
      else if (field.startsWith('k:')) entry.key = field.slice(2);
    }
    return entry;
  });
}

function encodeSettled(settled: readonly SettledEntry[]): string {
  return settled
    .map((s) => (s === null ? '-' : `${OUTCOME_LETTER[s.outcome]} ${s.finishedAt.getTime()}`))
    .join('\n');
}

function decodeSettled(text: string): SettledEntry[] {
  if (text === '') return [];
  return text.split('\n').map((line) => {
    if (line === '-') return null;
    const outcome = LETTER_OUTCOME[line[0] ?? ''];
    return outcome ? { outcome, finishedAt: new Date(Number(line.slice(2))) } : null;
  });
}

export function toStored(segment: LogSegment): StoredSegment {
  return {
    _id: segment._id,
    n: segment.n,
    jobs: encodeEntries(segment.jobs),
    count: segment.jobs.length,
    first: segment.first,
    last: segment.last,
    token: segment.token,
    appendedAt: segment.appendedAt,
    ...(segment.settled ? { settled: encodeSettled(segment.settled) } : {}),
  };
}

export function fromStored(stored: StoredSegment): LogSegment {
  return {
    _id: stored._id,
    n: stored.n,
    jobs: decodeEntries(stored.jobs),
    first: stored.first,
    last: stored.last,
    token: stored.token,
    appendedAt: stored.appendedAt ?? stored.last,
    ...(stored.settled !== undefined ? { settled: decodeSettled(stored.settled) } : {}),
  };
}
