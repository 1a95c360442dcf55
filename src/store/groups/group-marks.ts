/**
 * A matrix group's progress without reading its jobs one by one: whoever ends a job of a
 * group (a worker storing its outcome, a manager cancelling or retrying it) appends a mark —
 * the job's id, state and timings — to the group's numbered marks, read back by `_id`.
 *
 * - Marks are sets, not counters: the progress is each job's latest mark (by `at`), so a
 *   mark written twice (a redelivered job, a retried write) changes nothing.
 * - A worker deletes a group job from beanstalkd only after its mark is stored; if it dies
 *   in between, the job comes back, its outcome insert answers duplicate, and the worker that
 *   gets it marks the stored outcome. So every ended job is marked.
 * - Numbers are contiguous (insert at the next number, on a duplicate try the one after), and
 *   a reader reads from its snapshot's `through` + 1 until the first missing number. A reader
 *   that found many marks past the snapshot writes a new one: its content is a function of
 *   the marks it covers, so concurrent writers agree, and an older snapshot left by a slow
 *   writer only makes the next reader read a few more marks.
 * - Concurrent marks for one group coalesce: one insert in flight per group per process.
 */
import type { Binary, Collection } from 'mongodb';
import type { Outcome } from '../documents.js';
import { guard } from '../driver/guard.js';
import { packJson, unpackJson } from '../driver/packed.js';
import { findLast } from '../driver/sequence.js';
import { isDuplicateKey } from '../errors.js';

/** A job's state as a mark records it: an outcome, or `queued` again after a retry. */
export interface GroupMark {
  id: string;
  state: Outcome | 'queued';
  /** When this state began (the outcome's finishedAt, the retry's time): the latest wins. */
  at: Date;
  startedAt?: Date;
  /** The handler's result, when small enough to carry (see MAX_RESULT_BYTES). */
  result?: Record<string, unknown>;
  /** True when the result was too large to carry: GET /jobs/<id> has it. */
  resultOmitted?: boolean;
  error?: string;
  /** The job's type and group: carried by the marks of failed and cancelled jobs (listing reads them). */
  type?: string;
  group?: string;
}

/** A mark as packed: dates as epoch milliseconds. */
type PackedMark = Omit<GroupMark, 'at' | 'startedAt'> & { at: number; startedAt?: number };

/** Marks are packed (driver/packed.ts): a group's snapshot of 10,000 marks reads in milliseconds. */
interface MarksDocument {
  _id: string;
  count: number;
  marks: Binary;
}

interface SnapshotDocument {
  _id: string;
  /** The marks numbered up to this one are folded in. */
  through: number;
  count: number;
  /** Each member's latest mark, in the group's member order, without ids (0: none yet). */
  marks: Binary;
}

/** A mark in a snapshot: [state, at, startedAt?, result?, resultOmitted?, error?] (epoch ms). */
type AlignedMark = [
  GroupMark['state'],
  number,
  number | null,
  Record<string, unknown> | null,
  boolean,
  string | null,
];

function packAligned(jobs: Map<string, GroupMark>, members: readonly string[]): Binary {
  return packJson(
    members.map((id): AlignedMark | 0 => {
      const m = jobs.get(id);
      return m
        ? [
            m.state,
            m.at.getTime(),
            m.startedAt?.getTime() ?? null,
            m.result ?? null,
            m.resultOmitted === true,
            m.error ?? null,
          ]
        : 0;
    }),
  );
}

/**
 * A snapshot's marks into `into`, read before any numbered marks: the snapshot holds each
 * member's latest mark, one per member. Plain assignments, no spreads or arrays between: a group's first read in a manager decodes
 * all 10,000 of them in code not yet optimised, and each object made is the collector's too.
 */
function unpackAlignedInto(into: Map<string, GroupMark>, packed: Binary, members: readonly string[]): void {
  const aligned = unpackJson<Array<AlignedMark | 0>>(packed);
  const count = Math.min(aligned.length, members.length);
  for (let i = 0; i < count; i += 1) {
    const m = aligned[i];
    if (m === 0 || m === undefined) continue;
    const id = members[i] as string;
    const mark: GroupMark = { id, state: m[0], at: new Date(m[1]) };
    if (m[2] !== null) mark.startedAt = new Date(m[2]);
    if (m[3] !== null) mark.result = m[3];
    if (m[4]) mark.resultOmitted = true;
    if (m[5] !== null) mark.error = m[5];
    into.set(id, mark);
  }
}

const pack = (marks: readonly GroupMark[]): Binary =>
  packJson(
    marks.map((m): PackedMark => {
      const { at, startedAt, ...rest } = m;
      return { ...rest, at: at.getTime(), ...(startedAt ? { startedAt: startedAt.getTime() } : {}) };
    }),
  );

const unpack = (packed: Binary): GroupMark[] =>
  unpackJson<PackedMark[]>(packed).map((m) => {
    const { at, startedAt, ...rest } = m;
    return {
      ...rest,
      at: new Date(at),
      ...(startedAt !== undefined ? { startedAt: new Date(startedAt) } : {}),
    };
  });

/** Results larger than this (as JSON) are left out of marks. */
export const MAX_RESULT_BYTES = 2048;
/** Marks past the snapshot after which a reader writes a new one. */
const SNAPSHOT_AFTER = 16;

const markId = (group: string, n: number) => `${group}/${String(n).padStart(8, '0')}`;
const snapshotId = (group: string) => `${group}/snapshot`;

/** The result as a mark carries it. */
export function markResult(
  result: Record<string, unknown> | undefined,
): Pick<GroupMark, 'result' | 'resultOmitted'> {
  if (result === undefined) return {};
  return Buffer.byteLength(JSON.stringify(result)) <= MAX_RESULT_BYTES ? { result } : { resultOmitted: true };
}

function latest(into: Map<string, GroupMark>, marks: readonly GroupMark[]): void {
  for (const mark of marks) {
    const seen = into.get(mark.id);
    if (!seen || seen.at <= mark.at) into.set(mark.id, mark);
  }
}

export function groupMarks(collection: Collection<MarksDocument | SnapshotDocument>) {
  const docs = collection as unknown as Collection<MarksDocument>;
  const snapshots = collection as unknown as Collection<SnapshotDocument>;
  /** Per group: what waits for the insert in flight. */
  const writers = new Map<
    string,
    { waiting: Array<{ mark: GroupMark; done: (error?: unknown) => void }>; busy: boolean }
  >();
  /** Per group: the last number known to exist (a hint; the oldest are forgotten past a bound). */
  const lastKnown = new Map<string, number>();
  const exists = (group: string) => async (n: number) =>
    (await guard('probe group marks', () =>
      docs.findOne({ _id: markId(group, n) }, { projection: { _id: 1 } }),
    )) !== null;

  async function insertMarks(group: string, marks: GroupMark[]): Promise<void> {
    let n = (lastKnown.get(group) ?? 0) + 1;
    for (let round = 0; round < 1000; round += 1) {
      try {
        await guard('append group marks', () =>
          docs.insertOne({ _id: markId(group, n), count: marks.length, marks: pack(marks) }),
        );
        lastKnown.delete(group);
        lastKnown.set(group, n);
        if (lastKnown.size > 10_000) lastKnown.delete(lastKnown.keys().next().value as string);
        return;
      } catch (error: unknown) {
        if (!isDuplicateKey(error)) throw error;
      }
      n = (await findLast(exists(group), n)) + 1;
    }
    throw new Error(`group ${group}: could not append marks`);
  }

  function drain(group: string): void {
    const writer = writers.get(group);
    if (!writer || writer.busy || writer.waiting.length === 0) return;
    const batch = writer.waiting.splice(0);
    writer.busy = true;
    void insertMarks(
      group,
      batch.map((w) => w.mark),
    )
      .then(
        () => {
          for (const w of batch) w.done();
        },
        (error: unknown) => {
          for (const w of batch) w.done(error);
        },
      )
      .finally(() => {
        writer.busy = false;
        if (writer.waiting.length > 0) drain(group);
        else writers.delete(group);
      });
  }

  return {
    /** Stores one job's mark in its group; resolves once it is stored. */
    markGroupJob(group: string, mark: GroupMark): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        let writer = writers.get(group);
        if (!writer) {
          writer = { waiting: [], busy: false };
          writers.set(group, writer);
        }
        writer.waiting.push({ mark, done: (error) => (error === undefined ? resolve() : reject(error)) });
        drain(group);
      });
    },

    /**
     * Each member's latest mark. `members`: the group's job ids in its own order (the snapshot
     * is stored in that order, without ids), awaited only to decode it: the reads start at once.
     */
    async readGroupMarks(
      group: string,
      membersPromise: Promise<readonly string[]>,
    ): Promise<Map<string, GroupMark> & { last: number }> {
      const snapshot = await guard('read group snapshot', () =>
        snapshots.findOne({ _id: snapshotId(group) }),
      );
      const members = await membersPromise;
      const jobs = new Map<string, GroupMark>();
      if (snapshot) unpackAlignedInto(jobs, snapshot.marks, members);
      const from = (snapshot?.through ?? 0) + 1;
      let n = from;
      // The first number alone: past a fresh snapshot there is usually no mark at all (a
      // finished group's), and each probe is a point read. Then a few numbers at a time.
      for (let width = 1; ; width = 8) {
        const probes = await Promise.all(
          Array.from({ length: width }, (_, k) =>
            guard('read group marks', () => docs.findOne({ _id: markId(group, n + k) })),
          ),
        );
        const present = probes.indexOf(null);
        const found = (present === -1 ? probes : probes.slice(0, present)) as MarksDocument[];
        for (const doc of found) latest(jobs, unpack(doc.marks));
        n += found.length;
        if (present !== -1) break;
      }
      if (n - from > SNAPSHOT_AFTER) {
        const next: SnapshotDocument = {
          _id: snapshotId(group),
          through: n - 1,
          count: jobs.size,
          marks: packAligned(jobs, members),
        };
        await guard('write group snapshot', () =>
          snapshots.replaceOne({ _id: next._id }, next, { upsert: true }),
        ).catch((error: unknown) => {
          // Two readers wrote it at once: either snapshot is right.
          if (!isDuplicateKey(error)) throw error;
        });
      }
      // The last mark read: marks are numbered and never change, so a reader that finds no
      // mark after it knows nothing changed (GroupProgress keeps its answer on that).
      return Object.assign(jobs, { last: n - 1 });
    },

    /** Whether the group has a mark numbered `n`. */
    async groupMarkExists(group: string, n: number): Promise<boolean> {
      return exists(group)(n);
    },

    /** The marks numbered `n` of a key (null: none), for a reader walking them newest first. */
    async readMarkDoc(group: string, n: number): Promise<GroupMark[] | null> {
      const doc = await guard('read marks', () => docs.findOne({ _id: markId(group, n) }));
      return doc ? unpack(doc.marks) : null;
    },

    /** The last number of a key's marks (0: none), probing from the last one this process knows. */
    async lastMarkNumber(group: string): Promise<number> {
      const last = await findLast(exists(group), lastKnown.get(group) ?? 0);
      lastKnown.set(group, last);
      return last;
    },
  };
}

export type GroupMarks = ReturnType<typeof groupMarks>;
