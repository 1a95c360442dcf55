/**
 * `GET /jobs`: jobs newest first, filtered by state, type, group and creation time, in pages
 * joined by a cursor. It walks the job log (store/job-log.ts) down from its newest segment
 * (log-walk.ts): every job is in exactly one segment, segments are
 * numbered in the order they were appended, and a cursor names a position in that order
 * ("segment.index"), so jobs added while a client pages through land above its cursor and
 * never shift the pages: no job is shown twice, none recorded before the walk is skipped.
 * Within a few milliseconds (and the clock difference between managers) that order is
 * creation order.
 *
 * A job's state is derived: from its settled segment when the maintenance pass has settled it
 * (a failed job is read again: a retry or cancel changes it), else from a point read of its
 * outcome, else from beanstalkd. Filters keep the matching jobs; one request makes at most
 * ten point reads per job asked for (segments, type directories and outcomes) and one chunk of
 * candidates more, and answers with the cursor to go on from when it stopped early. The query itself is read and checked in list-query.ts.
 */
import { jobIdTime } from '../../../jobs/job-id.js';
import type { QueueSet } from '../../../queue/index.js';
import {
  type GroupDocument,
  type GroupMark,
  type LogEntry,
  mapConcurrently,
  type QueueLocation,
  type SettledEntry,
  type Store,
} from '../../../store/index.js';
import { formatCursor, type ListQuery } from './list-query.js';
import { type LogCandidate, walkLog } from './log-walk.js';
import { findLiveCopy, stateOfCopy } from './queue-location.js';
import { type JobState, UNFINISHED_STATES } from './views.js';

/** Outcomes read in parallel while resolving states. */
const STATE_READS_IN_FLIGHT = 16;

export interface JobSummary {
  id: string;
  type: string;
  state: JobState;
  createdAt: string;
  group?: string;
  finishedAt?: string;
}

/** The page builder of GET /jobs, over the store and the queue it is given. */
export function createJobListing(deps: { queue: QueueSet; store: Store }) {
  const { queue, store } = deps;
  const wantsLive = (query: ListQuery) =>
    query.state === undefined || (UNFINISHED_STATES as readonly string[]).includes(query.state);

  /** The state of a job with no outcome: beanstalkd's view of its copy, null when it has no record. */
  async function liveState(id: string): Promise<JobState | null> {
    let location: QueueLocation | null = await store.findQueueRef(id);
    if (!location) {
      const job = await store.findJob(id);
      // In the log but not recorded: its POST failed (or its insert is still on its way).
      if (!job) return null;
      location = job.queue ?? null;
    }
    const live = await findLiveCopy(queue, id, location);
    return live ? stateOfCopy(live) : 'queued';
  }

  /**
   * States of some entries of one segment: settled ones from the segment (failed ones read
   * again), the rest from a point read of the outcome and then beanstalkd. Null: leave it out
   * (no record, or a pending job when only finished states are asked for).
   */
  async function statesOf(
    entries: Array<{ id: string; settled?: SettledEntry | undefined }>,
    query: ListQuery,
  ): Promise<Array<{ state: JobState; finishedAt?: Date } | null> & { reads: number }> {
    let reads = 0;
    const states = await mapConcurrently(entries, STATE_READS_IN_FLIGHT, async (entry) => {
      const { settled } = entry;
      if (settled === null) return null;
      if (settled && settled.outcome !== 'failed')
        return { state: settled.outcome, finishedAt: settled.finishedAt };
      reads += 1;
      const result = await store.findResult(entry.id);
      if (result) return { state: result.outcome, finishedAt: result.finishedAt };
      if (!wantsLive(query)) return null;
      const state = await liveState(entry.id);
      return state === null ? null : { state };
    });
    return Object.assign(states, { reads });
  }

  /** A group's jobs, newest first, from its group document (cursor "0.index" into its list). */
  async function listGroup(
    query: ListQuery,
    id: string,
  ): Promise<{ jobs: JobSummary[]; nextCursor: string | null }> {
    const group = await store.findGroup(id);
    if (!group || (query.type !== undefined && query.type !== group.type))
      return { jobs: [], nextCursor: null };
    const jobs: JobSummary[] = [];
    let index = Math.min(query.cursor?.index ?? group.jobs.length, group.jobs.length);
    let reads = 0;
    while (index > 0) {
      if (reads >= query.limit * 10) return { jobs, nextCursor: formatCursor({ n: 0, index }) };
      const chunk: number[] = [];
      for (
        let i = index - 1;
        i >= 0 && chunk.length < Math.max(query.limit - jobs.length, STATE_READS_IN_FLIGHT);
        i -= 1
      ) {
        chunk.push(i);
      }
      const members = chunk.map((i) => group.jobs[i] as GroupDocument['jobs'][number]);
      const states = await statesOf(members, query);
      reads += states.reads;
      for (const [k, i] of chunk.entries()) {
        index = i;
        const found = states[k];
        const member = members[k] as GroupDocument['jobs'][number];
        const createdAt = jobIdTime(member.id);
        if (query.createdAfter !== undefined && createdAt < query.createdAfter) continue;
        if (query.createdBefore !== undefined && createdAt >= query.createdBefore) continue;
        if (!found || (query.state !== undefined && found.state !== query.state)) continue;
        jobs.push({
          id: member.id,
          type: group.type,
          state: found.state,
          createdAt: createdAt.toISOString(),
          group: id,
          ...(found.finishedAt ? { finishedAt: found.finishedAt.toISOString() } : {}),
        });
        if (jobs.length === query.limit)
          return { jobs, nextCursor: index > 0 ? formatCursor({ n: 0, index }) : null };
      }
    }
    return { jobs, nextCursor: null };
  }

  /**
   * Failed or cancelled jobs, newest first by when they ended, from their marks (few, unlike
   * the log): a mark counts while the job's outcome is still the one it marked.
   */
  async function listMarked(
    query: ListQuery,
    state: 'failed' | 'cancelled',
  ): Promise<{ jobs: JobSummary[]; nextCursor: string | null }> {
    let n = query.cursor ? query.cursor.n : await store.lastStateMark(state);
    let below = query.cursor ? query.cursor.index : Number.MAX_SAFE_INTEGER;
    const jobs: JobSummary[] = [];
    const maxReads = query.limit * 10;
    let reads = 0;
    while (n >= 1) {
      if (reads >= maxReads) {
        // Not started on document n: "below index 0 of n + 1" (a cursor's index must stay
        // within the cursor format, which MAX_SAFE_INTEGER does not).
        const next = below === Number.MAX_SAFE_INTEGER ? { n: n + 1, index: 0 } : { n, index: below };
        return { jobs, nextCursor: formatCursor(next) };
      }
      const marks = (await store.readStateMarks(state, n)) ?? [];
      reads += 1;
      const candidates: number[] = [];
      for (let i = Math.min(below, marks.length) - 1; i >= 0; i -= 1) {
        const mark = marks[i] as GroupMark;
        const createdAt = jobIdTime(mark.id);
        if (query.type !== undefined && mark.type !== query.type) continue;
        if (query.createdAfter !== undefined && createdAt < query.createdAfter) continue;
        if (query.createdBefore !== undefined && createdAt >= query.createdBefore) continue;
        candidates.push(i);
      }
      const outcomes = await mapConcurrently(candidates, STATE_READS_IN_FLIGHT, (i) =>
        store.findResult((marks[i] as GroupMark).id),
      );
      reads += candidates.length;
      for (const [k, i] of candidates.entries()) {
        const mark = marks[i] as GroupMark;
        const result = outcomes[k];
        if (result?.outcome !== state || result.finishedAt.getTime() !== mark.at.getTime()) continue;
        jobs.push({
          id: mark.id,
          type: result.type,
          state,
          createdAt: jobIdTime(mark.id).toISOString(),
          ...(mark.group !== undefined ? { group: mark.group } : {}),
          finishedAt: result.finishedAt.toISOString(),
        });
        if (jobs.length === query.limit) return { jobs, nextCursor: formatCursor({ n, index: i }) };
      }
      n -= 1;
      below = Number.MAX_SAFE_INTEGER;
    }
    return { jobs, nextCursor: null };
  }

  return {
    async list(query: ListQuery): Promise<{ jobs: JobSummary[]; nextCursor: string | null }> {
      if (query.group !== undefined) return await listGroup(query, query.group);
      if (query.state === 'failed' || query.state === 'cancelled')
        return await listMarked(query, query.state);
      const walk = await walkLog(store.log, query);
      const jobs: JobSummary[] = [];
      const maxReads = query.limit * 10;
      /** Outcome reads made resolving states (the walk counts its segment reads). */
      let stateReads = 0;
      const reads = () => walk.reads + stateReads;
      const matches = (entry: LogEntry) =>
        (query.type === undefined || entry.type === query.type) &&
        (query.createdAfter === undefined || entry.at >= query.createdAfter) &&
        (query.createdBefore === undefined || entry.at < query.createdBefore);
      /** Candidates read but not yet resolved, newest first. */
      const pending: LogCandidate[] = [];
      /** Whether this page has resolved a chunk of candidates yet. */
      let resolved = false;
      for (;;) {
        const wanted: number =
          query.state === undefined
            ? query.limit - jobs.length
            : Math.max(query.limit - jobs.length, STATE_READS_IN_FLIGHT * 2);
        // Candidates: entries that pass the filters, newest first.
        while (!walk.ended && pending.length < wanted && reads() < maxReads) {
          pending.push(...(await walk.next(matches, wanted - pending.length)));
        }
        if (pending.length === 0) {
          // The log ends here, or this request's reads do: then go on from the segments not read.
          return { jobs, nextCursor: walk.ended ? null : formatCursor(walk.resume()) };
        }
        if (reads() >= maxReads && resolved) {
          // Out of reads: go on next time from the first candidate not yet resolved. Not before
          // one chunk is: a walk for a type may spend a page's reads on directories before its
          // first candidate, and a page that resolves none would hand out its own cursor again.
          const next = pending[0] as (typeof pending)[number];
          return { jobs, nextCursor: formatCursor({ n: next.n, index: next.index + 1 }) };
        }
        resolved = true;
        const chunk: typeof pending = pending.splice(0, wanted);
        const states = await statesOf(
          chunk.map((c) => ({ id: c.entry.id, settled: c.settled })),
          query,
        );
        stateReads += states.reads;
        for (const [k, candidate] of chunk.entries()) {
          const found: { state: JobState; finishedAt?: Date } | null | undefined = states[k];
          if (!found || (query.state !== undefined && found.state !== query.state)) continue;
          const { entry } = candidate;
          jobs.push({
            id: entry.id,
            type: entry.type,
            state: found.state,
            createdAt: entry.at.toISOString(),
            ...(entry.group !== undefined ? { group: entry.group } : {}),
            ...(found.finishedAt ? { finishedAt: found.finishedAt.toISOString() } : {}),
          });
          if (jobs.length === query.limit) {
            return { jobs, nextCursor: formatCursor({ n: candidate.n, index: candidate.index }) };
          }
        }
      }
    },
  };
}
