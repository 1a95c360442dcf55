/**
 * A group's results as its completion job sees them (`on_complete`, docs/flows-design.md): the
 * group document's members in order, each with its latest mark. Two reads by `_id` (the group
 * and its marks' snapshot, plus the marks after it) however large the group: the flow loop
 * judges a completion job with it, and the job's handler reads it through `context.group`.
 */
import type { Groups, Outcome } from '../store/index.js';

/** One member of the group: its outcome, or `unfinished` while it has none. */
export interface GroupMemberResult {
  id: string;
  combination: Record<string, string | number | boolean>;
  state: Outcome | 'unfinished';
  /** The handler's result, when small enough for the marks (else `resultOmitted`: GET /jobs/<id> has it). */
  result?: Record<string, unknown>;
  resultOmitted?: true;
  error?: string;
  finishedAt?: string;
}

export interface GroupResults {
  group: string;
  type: string;
  total: number;
  /** Every member has an outcome. */
  done: boolean;
  counts: Partial<Record<Outcome | 'unfinished', number>>;
  jobs: GroupMemberResult[];
}

/** A group's document (null: no such group) and each member's latest mark, both read at once. */
export async function readGroupAndMarks(store: Pick<Groups, 'findGroup' | 'readGroupMarks'>, id: string) {
  const finding = store.findGroup(id);
  // The marks need the member order only to decode.
  const [group, marks] = await Promise.all([
    finding,
    store.readGroupMarks(
      id,
      finding.then((found) => found?.jobs.map((job) => job.id) ?? []),
    ),
  ]);
  return { group, marks };
}

/** The group's results; null when there is no such group. */
export async function readGroupResults(
  store: Pick<Groups, 'findGroup' | 'readGroupMarks'>,
  id: string,
): Promise<GroupResults | null> {
  const { group, marks } = await readGroupAndMarks(store, id);
  if (!group) return null;
  const counts: GroupResults['counts'] = {};
  const jobs = group.jobs.map((member): GroupMemberResult => {
    const mark = marks.get(member.id);
    // A `queued` mark is a retry after an end: the member is running again.
    const state = mark === undefined || mark.state === 'queued' ? 'unfinished' : mark.state;
    counts[state] = (counts[state] ?? 0) + 1;
    if (mark === undefined || state === 'unfinished')
      return { id: member.id, combination: member.combination, state };
    return {
      id: member.id,
      combination: member.combination,
      state,
      ...(mark.result !== undefined ? { result: mark.result } : {}),
      ...(mark.resultOmitted ? { resultOmitted: true as const } : {}),
      ...(mark.error !== undefined ? { error: mark.error } : {}),
      finishedAt: mark.at.toISOString(),
    };
  });
  return {
    group: id,
    type: group.type,
    total: group.total,
    done: counts.unfinished === undefined,
    counts,
    jobs,
  };
}
