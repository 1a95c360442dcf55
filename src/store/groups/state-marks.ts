/**
 * Failed and cancelled jobs, each in its own numbered marks (the same writer as a group's,
 * group-marks.ts): `GET /jobs?state=failed` walks these newest first instead of the whole
 * log, since such jobs are few. A job marked twice (failed, retried, failed again) is shown
 * once: only the mark matching its current outcome counts.
 *
 * The same numbered marks index matrix groups (`index:groups`, one mark per group, written
 * before its fan-out): `GET /groups` walks them newest first.
 *
 * Beside the marks, one small document per job type says which failed marks
 * `POST /types/<type>/retry-failed` has walked to the end already (manager/jobs/bulk-actions.ts),
 * so a call reads only the marks written since and those an earlier call stopped short of.
 */
import type { Collection } from 'mongodb';
import { guard } from '../driver/guard.js';
import { isDuplicateKey } from '../errors.js';
import { type GroupMark, groupMarks } from './group-marks.js';

/** Failed marks numbered `from` to `to` (both included), walked for one job type. */
export interface SweptRange {
  from: number;
  to: number;
}

/** A type's walked ranges. Arrays of objects: FerretDB refuses nested arrays. */
interface SweepDocument {
  _id: string;
  ranges: SweptRange[];
  at: Date;
}

const sweepId = (type: string) => `sweep:failed:${type}`;
const GROUP_INDEX = 'index:groups';

export function stateMarkMethods(collection: Parameters<typeof groupMarks>[0]) {
  const marks = groupMarks(collection);
  const sweeps = collection as unknown as Collection<SweepDocument>;
  return {
    markState(state: 'failed' | 'cancelled', mark: GroupMark): Promise<void> {
      return marks.markGroupJob(`state:${state}`, mark);
    },
    readStateMarks(state: 'failed' | 'cancelled', n: number): Promise<GroupMark[] | null> {
      return marks.readMarkDoc(`state:${state}`, n);
    },
    lastStateMark(state: 'failed' | 'cancelled'): Promise<number> {
      return marks.lastMarkNumber(`state:${state}`);
    },
    indexGroup(mark: GroupMark): Promise<void> {
      return marks.markGroupJob(GROUP_INDEX, mark);
    },
    readGroupIndex(n: number): Promise<GroupMark[] | null> {
      return marks.readMarkDoc(GROUP_INDEX, n);
    },
    lastGroupIndex(): Promise<number> {
      return marks.lastMarkNumber(GROUP_INDEX);
    },
    /** The failed marks already walked for this type (none: an empty list). */
    async findSweptMarks(type: string): Promise<SweptRange[]> {
      const doc = await guard('read swept marks', () => sweeps.findOne({ _id: sweepId(type) }));
      return doc?.ranges.map(({ from, to }) => ({ from, to })) ?? [];
    },
    /**
     * Replaces the type's walked ranges. Two managers writing at once: the last one wins, and
     * the ranges the other one walked are simply walked again (every range is true for good).
     */
    async saveSweptMarks(type: string, ranges: readonly SweptRange[]): Promise<void> {
      const doc: SweepDocument = { _id: sweepId(type), ranges: [...ranges], at: new Date() };
      await guard('save swept marks', () => sweeps.replaceOne({ _id: doc._id }, doc, { upsert: true })).catch(
        (error: unknown) => {
          // Two upserts of a new _id at once: the other one's ranges stand.
          if (!isDuplicateKey(error)) throw error;
        },
      );
    },
  };
}
