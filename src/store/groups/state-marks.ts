/**
 * Failed and cancelled jobs, each in its own numbered marks (the same writer as a group's,
 * group-marks.ts): `GET /jobs?state=failed` walks these newest first instead of the whole
 * log, since such jobs are few. A job marked twice (failed, retried, failed again) is shown
 * once: only the mark matching its current outcome counts.
 */
import type { GroupMark, GroupMarks } from './group-marks.js';

export function stateMarkMethods(marks: GroupMarks) {
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
  };
}
