/**
 * Completion notices (docs/completion-design.md): beside each commit of its outcome tally, a
 * process writes the final states that commit counted into one notice, so that every manager
 * can learn which jobs ended by following each live tally with point reads — at a cost per
 * process, not per waiting client, job or year of history.
 *
 * A tally's notices are numbered 1, 2, 3 … and kept in a ring of NOTICE_SLOTS documents per
 * tally (`_id` "<tally id>:<slot>", replaced in place), so they need no retention pass; the
 * fold deletes a retired tally's slots. A notice counts once the tally document saved after
 * it says `notices` >= its number (it is sealed): a notice written again before that, with
 * more entries, is never read half-way.
 */
import type { Collection } from 'mongodb';
import type { Outcome } from '../documents.js';
import { guard } from '../driver/guard.js';
import type { TallyDocument } from './tallies.js';

/** How many notices a tally keeps: a follower more than this many behind skips the rest. */
export const NOTICE_SLOTS = 1024;

/** One job that reached a final state. */
export interface CompletionEntry {
  id: string;
  state: Outcome;
  at: Date;
  /** The job's type and matrix group, for event filters (absent on notices of older versions). */
  type?: string;
  group?: string;
  /** When its outcome's insert was acknowledged (absent when found stored by another run). */
  storedAt?: Date;
}

/** A job that started a run, or reported progress in one (the event stream shows them). */
export interface NoticeEvent {
  id: string;
  kind: 'started' | 'progress';
  at: Date;
  type: string;
  group?: string;
  /** Which delivery of the job. */
  attempt: number;
  /** Progress only: 0–100, and what the handler passed along (small JSON). */
  percent?: number;
  data?: unknown;
}

/** A notice as writers and readers see it: one slot of a tally's ring. */
export interface NoticeDocument {
  _id: string;
  tally: string;
  n: number;
  at: Date;
  entries: CompletionEntry[];
  /** Starts and progress since the last notice, oldest first, before the entries' ends. */
  events?: NoticeEvent[];
}

/**
 * A notice as stored in `completions`: `entries` empty and `events` absent, their content in
 * `ends` and `starts`; notices of older versions have no `ends` or `starts` and the arrays filled.
 */
export interface StoredNotice extends NoticeDocument {
  /** JSON: the entries, times as epoch milliseconds. */
  ends?: string;
  /** JSON: the events, times as epoch milliseconds. */
  starts?: string;
}

/** An entry or event in JSON: its times as epoch milliseconds. */
type StoredEntry = Omit<CompletionEntry, 'at' | 'storedAt'> & { at: number; storedAt?: number };
type StoredEvent = Omit<NoticeEvent, 'at'> & { at: number };

/** The stored form of a notice (its `_id` is its slot's: noticeSlotId). */
export function toStoredNotice(doc: Omit<NoticeDocument, '_id'>): Omit<StoredNotice, '_id'> {
  const ends = doc.entries.map(
    ({ at, storedAt, ...entry }): StoredEntry => ({
      ...entry,
      at: at.getTime(),
      ...(storedAt !== undefined ? { storedAt: storedAt.getTime() } : {}),
    }),
  );
  return {
    tally: doc.tally,
    n: doc.n,
    at: doc.at,
    entries: [],
    ends: JSON.stringify(ends),
    ...(doc.events !== undefined
      ? {
          starts: JSON.stringify(
            doc.events.map(({ at, ...event }): StoredEvent => ({ ...event, at: at.getTime() })),
          ),
        }
      : {}),
  };
}

/** A stored notice as readers see it, whichever version wrote it. */
export function fromStoredNotice(stored: StoredNotice): NoticeDocument {
  const entries =
    stored.ends === undefined
      ? stored.entries
      : (JSON.parse(stored.ends) as StoredEntry[]).map(
          ({ at, storedAt, ...entry }): CompletionEntry => ({
            ...entry,
            at: new Date(at),
            ...(storedAt !== undefined ? { storedAt: new Date(storedAt) } : {}),
          }),
        );
  const events =
    stored.starts === undefined
      ? stored.events
      : (JSON.parse(stored.starts) as StoredEvent[]).map(
          ({ at, ...event }): NoticeEvent => ({ ...event, at: new Date(at) }),
        );
  return {
    _id: stored._id,
    tally: stored.tally,
    n: stored.n,
    at: stored.at,
    entries,
    ...(events !== undefined ? { events } : {}),
  };
}

export function noticeSlotId(tally: string, n: number): string {
  return `${tally}:${n % NOTICE_SLOTS}`;
}

export function completionQueries(notices: Collection<StoredNotice>, tallies: Collection<TallyDocument>) {
  return {
    /** Writes notice `n` of its tally into its slot (replacing what the slot held). */
    async saveNotice(doc: Omit<NoticeDocument, '_id'>): Promise<void> {
      const _id = noticeSlotId(doc.tally, doc.n);
      await guard('save notice', () => notices.replaceOne({ _id }, toStoredNotice(doc), { upsert: true }));
    },

    /** Notice `n` of `tally`, or null when its slot holds another one (or none). */
    async findNotice(tally: string, n: number): Promise<NoticeDocument | null> {
      const doc = await guard('find notice', () => notices.findOne({ _id: noticeSlotId(tally, n) }));
      return doc?.n === n && doc.tally === tally ? fromStoredNotice(doc) : null;
    },

    /** One tally document by its id: how far its notices are sealed. */
    findTally(id: string): Promise<TallyDocument | null> {
      return guard('find tally', () => tallies.findOne({ _id: id }));
    },

    /** Removes the notice slots of a retired tally that wrote `written` notices. */
    async deleteNotices(tally: string, written: number): Promise<void> {
      const slots = Math.min(written, NOTICE_SLOTS);
      if (slots === 0) return;
      await guard('delete notices', () =>
        notices.bulkWrite(
          Array.from({ length: slots }, (_, slot) => ({
            deleteOne: { filter: { _id: `${tally}:${slot}` } },
          })),
          { ordered: false },
        ),
      );
    },
  };
}
