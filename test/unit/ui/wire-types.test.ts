/**
 * The dashboard's idea of the API (ui/src/types.ts, written for the browser bundle) against the
 * types the manager builds its answers with. The type checks below fail `npm run typecheck`
 * when the dashboard reads a field the API does not send, or expects a type the API does not
 * give: the job page once linked a job to its group through a field no answer carried.
 */
import assert from 'node:assert/strict';

import type { GroupSummary, groupProgress } from '../../../src/manager/groups/group-progress.js';
import type { JobSummary } from '../../../src/manager/jobs/read/listing.js';
import * as api from '../../../src/manager/jobs/read/views.js';
import type { ScheduleView } from '../../../src/manager/schedules/schedule-views.js';
import type { StatsView } from '../../../src/manager/stats/stats.js';
import type { WorkerView } from '../../../src/manager/stats/workers.js';
import * as ui from '../../../ui/src/types.js';

/** true when every field `Ui` names is one of `Api`'s and an `Api` value is a `Ui` value. */
type Agrees<Api, Ui> = [Exclude<keyof Ui, keyof Api>] extends [never]
  ? [Api] extends [Ui]
    ? true
    : false
  : false;

type GroupAnswer = Awaited<ReturnType<typeof groupProgress>>['view'];

// Each `true` compiles only while its pair agrees.
const agreements: [
  Agrees<api.JobView, ui.JobView>,
  Agrees<api.LiveQueueView, ui.QueueView>,
  Agrees<JobSummary, ui.JobRow>,
  Agrees<WorkerView, ui.WorkerView>,
  Agrees<StatsView, ui.StatsAnswer>,
  Agrees<ScheduleView, ui.ScheduleView>,
  Agrees<GroupSummary, ui.GroupListItem>,
  Agrees<GroupAnswer, ui.GroupAnswer>,
] = [true, true, true, true, true, true, true, true];

describe("the dashboard's types against the API's", () => {
  it('when the type checks compile, then the job states the dashboard lists are the API’s, in the same order', () => {
    assert.equal(agreements.length, 8);
    assert.deepEqual([...ui.JOB_STATES], [...api.JOB_STATES]);
    assert.deepEqual([...ui.UNFINISHED_STATES], [...api.UNFINISHED_STATES]);
  });
});
