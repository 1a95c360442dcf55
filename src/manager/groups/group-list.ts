/**
 * `GET /groups`: matrix groups newest first, in pages joined by a cursor, from the group index:
 * numbered marks (store/groups/state-marks.ts), one per group, written before its fan-out
 * accepts any job. So a page costs a few point reads whatever the history: the index documents
 * it walks down and each listed group's summary — never a walk of the job log, where groups may
 * be rare.
 *
 * Each group once, across pages: a group has one mark, and a cursor names a position among the
 * marks ("n.index": below entry `index` of marks document `n`), so marks written while a client
 * pages land above its cursor and never shift the pages. Left out: a group whose fan-out
 * accepted nothing or is still running (no document yet), and one retention removed. Groups
 * created before the index existed are not in it (GET /groups/<id> still answers for them).
 *
 * Bounds: at most ten point reads per group asked for (index documents and summaries). Each
 * summary (group-progress.ts) is its document and its marks, or one point read while no mark
 * has followed the summary this manager keeps of it (kept-by-marks.ts).
 */
import { type GroupMark, mapConcurrently, type Store } from '../../store/index.js';
import {
  formatCursor,
  type LogPosition,
  parseCursor,
  parseLimit,
  queryParameters,
} from '../jobs/read/list-query.js';
import { type GroupSummary, summarizeGroup } from './group-progress.js';
import { KeptByMarks } from './kept-by-marks.js';

export const MAX_GROUP_LIMIT = 100;
const DEFAULT_GROUP_LIMIT = 20;
const KNOWN_PARAMETERS: ReadonlySet<string> = new Set(['limit', 'cursor']);
/** Groups summarized at once (each reads its marks up to eight at a time). */
const SUMMARIES_IN_FLIGHT = 4;
/** Groups whose summary a manager keeps (a few hundred bytes each). */
const GROUPS_KEPT = 10_000;

export interface GroupListQuery {
  limit: number;
  cursor?: LogPosition;
}

export interface GroupPage {
  groups: GroupSummary[];
  /** Where the next page starts (a position in the group index); null: the index ends here. */
  nextCursor: string | null;
}

/** Reads and checks the query string of GET /groups: every bad value is an INVALID_QUERY. */
export function parseGroupListQuery(
  query: Readonly<Record<string, string | string[] | undefined>>,
): GroupListQuery {
  const one = queryParameters(query, KNOWN_PARAMETERS);
  const result: GroupListQuery = { limit: parseLimit(one('limit'), MAX_GROUP_LIMIT, DEFAULT_GROUP_LIMIT) };
  const cursor = one('cursor');
  if (cursor !== undefined) result.cursor = parseCursor(cursor);
  return result;
}

/** The page builder of GET /groups, over the store it is given. */
export function createGroupListing(deps: { store: Store }) {
  const { store } = deps;
  const summaries = new KeptByMarks<GroupSummary | null>({ store, maxSize: GROUPS_KEPT, sizeOf: () => 1 });
  const summarize = (id: string) =>
    summaries.get(id, async () => {
      const { summary, last } = await summarizeGroup(store, id);
      return { value: summary, last, keep: summary !== null };
    });
  return {
    async list(query: GroupListQuery): Promise<GroupPage> {
      let n = query.cursor ? query.cursor.n : await store.lastGroupIndex();
      let below = query.cursor ? query.cursor.index : Number.MAX_SAFE_INTEGER;
      const maxReads = query.limit * 10;
      let reads = 0;
      const listed = new Set<string>();
      const answer = async (next: LogPosition | null): Promise<GroupPage> => {
        const groups = await mapConcurrently([...listed], SUMMARIES_IN_FLIGHT, summarize);
        return {
          groups: groups.filter((group): group is GroupSummary => group !== null),
          nextCursor: next && formatCursor(next),
        };
      };
      while (n >= 1) {
        // Each group listed costs its summary, read below: keep room for them.
        if (reads + listed.size >= maxReads) {
          // Not started on document n: "below index 0 of n + 1" (a cursor's index must stay
          // within the cursor format, which MAX_SAFE_INTEGER does not).
          return answer(below === Number.MAX_SAFE_INTEGER ? { n: n + 1, index: 0 } : { n, index: below });
        }
        const marks = (await store.readGroupIndex(n)) ?? [];
        reads += 1;
        for (let i = Math.min(below, marks.length) - 1; i >= 0; i -= 1) {
          listed.add((marks[i] as GroupMark).id);
          if (listed.size === query.limit) return answer({ n, index: i });
        }
        n -= 1;
        below = Number.MAX_SAFE_INTEGER;
      }
      return answer(null);
    },
  };
}
