/**
 * Failed, cancelled and buried jobs: the lists (GET /jobs?state=failed, ?state=cancelled, newest
 * ended first; ?state=buried, newest recorded first), retry or cancel one as the API allows it,
 * and per type "retry all failed" (POST /types/<type>/retry-failed) and "kick all buried"
 * (POST /types/<type>/kick), with the API's answer shown as it came.
 */
import { call } from './api';
import {
  ActionResult,
  ColumnHeads,
  ConfirmButton,
  IdLink,
  Num,
  ReadError,
  StateBadge,
  Time,
} from './components';
import { useAction, useNow, useRead } from './hooks';
import { pageHref } from './routes';
import type { JobListAnswer, JobRow, StatsAnswer } from './types';

/** Calls made for one button at most: each handles up to 1,000 jobs (the API's default limit). */
const MAX_CALLS = 100;

/** The counts of every call a button made, added up; `more` as the last call said. */
type BulkAnswer = Record<string, number | boolean | string>;

/**
 * POSTs `path` again while the API answers `more: true` (it stopped at its limit), adding up
 * the counts (`retried`, `skipped`, `kicked`, `removed`).
 */
async function bulkCall(path: string): Promise<BulkAnswer> {
  const total: BulkAnswer = {};
  for (let calls = 1; ; calls += 1) {
    const answer = await call<BulkAnswer>(path, { method: 'POST' });
    for (const [name, value] of Object.entries(answer)) {
      const known = total[name];
      total[name] = typeof value === 'number' && typeof known === 'number' ? known + value : value;
    }
    total.calls = calls;
    if (answer.more !== true || calls >= MAX_CALLS) return total;
  }
}

/** "retried 3, skipped 0 (1 call)". */
function describeBulk(answer: unknown): string {
  const counts = Object.entries((answer ?? {}) as BulkAnswer)
    .filter(([name, value]) => typeof value === 'number' && name !== 'calls')
    .map(([name, value]) => `${name} ${value}`);
  const calls = (answer as BulkAnswer | null)?.calls;
  const more = (answer as BulkAnswer | null)?.more === true ? '; there may be more: press again' : '';
  return `${counts.join(', ')}${typeof calls === 'number' ? ` (${calls} ${calls === 1 ? 'call' : 'calls'})` : ''}${more}`;
}

function ByType({ reloadList }: { reloadList(): void }) {
  const stats = useRead<StatsAnswer>('stats', 5000);
  const [action, run] = useAction();
  const bulk = (label: string, path: string) =>
    run(label, async () => {
      const answer = await bulkCall(path);
      stats.reload();
      reloadList();
      return answer;
    });
  return (
    <section aria-labelledby="by-type-title">
      <h2 id="by-type-title">By type</h2>
      <ReadError error={stats.error} />
      <ActionResult state={action} summary={describeBulk} />
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">type</th>
              <th scope="col">failed (outcomes stored)</th>
              <th scope="col">buried now</th>
              <th scope="col">steer</th>
            </tr>
          </thead>
          <tbody>
            {(stats.data?.types ?? []).map((row) => {
              const type = encodeURIComponent(row.type);
              return (
                <tr key={row.type} data-type={row.type}>
                  <th scope="row">{row.type}</th>
                  <td>
                    <Num value={row.failed} />
                  </td>
                  <td>
                    <Num value={row.buried} />
                  </td>
                  <td class="actions">
                    <ConfirmButton
                      question={`Retry every failed ${row.type} job?`}
                      disabled={action.busy}
                      onConfirm={() => bulk(`Retry all failed ${row.type}`, `types/${type}/retry-failed`)}
                    >
                      Retry all failed {row.type}
                    </ConfirmButton>{' '}
                    <ConfirmButton
                      question={`Kick every buried ${row.type} job?`}
                      disabled={action.busy}
                      onConfirm={() => bulk(`Kick all buried ${row.type}`, `types/${type}/kick`)}
                    >
                      Kick all buried {row.type}
                    </ConfirmButton>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The lists of this page, by their `state`: what each is called and what it lets you do. */
const LISTS = {
  failed: { tab: 'Failed', title: 'Failed jobs', order: 'Newest ended first', time: 'ended' },
  cancelled: { tab: 'Cancelled', title: 'Cancelled jobs', order: 'Newest ended first', time: 'ended' },
  // A buried job has no outcome: the API cancels it (DELETE /jobs/<id>) but retries only failed ones.
  buried: { tab: 'Buried', title: 'Buried jobs', order: 'Newest recorded first', time: 'created' },
} as const;
type ListName = keyof typeof LISTS;

/** The buttons a job of this state gets: what the API accepts for it. */
function JobActions({
  job,
  busy,
  act,
}: {
  job: JobRow;
  busy: boolean;
  act(label: string, method: 'POST' | 'DELETE', path: string): void;
}) {
  if (job.state !== 'failed' && job.state !== 'buried') return <span class="muted">—</span>;
  return (
    <>
      {job.state === 'failed' ? (
        <>
          <button
            type="button"
            aria-label={`Retry ${job.id}`}
            disabled={busy}
            onClick={() => act(`Retry ${job.id}`, 'POST', `jobs/${job.id}/retry`)}
          >
            Retry
          </button>{' '}
        </>
      ) : null}
      <button
        type="button"
        aria-label={`Cancel ${job.id}`}
        disabled={busy}
        onClick={() => act(`Cancel ${job.id}`, 'DELETE', `jobs/${job.id}`)}
      >
        Cancel
      </button>
    </>
  );
}

export function Failed({ params }: { params: URLSearchParams }) {
  const asked = params.get('state');
  const state: ListName = asked === 'cancelled' || asked === 'buried' ? asked : 'failed';
  const shown = LISTS[state];
  const cursor = params.get('cursor') ?? undefined;
  const query = new URLSearchParams({ state, limit: '50', ...(cursor ? { cursor } : {}) }).toString();
  const list = useRead<JobListAnswer>(`jobs?${query}`);
  useNow(15_000);
  const [action, run] = useAction();
  const act = (label: string, method: 'POST' | 'DELETE', path: string) =>
    run(label, async () => {
      const answer = await call(path, { method });
      list.reload();
      return answer;
    });
  return (
    <>
      <h1>Failed, cancelled and buried</h1>
      <ByType reloadList={list.reload} />
      <section aria-labelledby="list-title">
        <h2 id="list-title">{shown.title}</h2>
        <nav class="tabs" aria-label="Which jobs">
          {(Object.keys(LISTS) as ListName[]).map((name) => (
            <span key={name}>
              <a
                href={pageHref('/failed', { state: name === 'failed' ? undefined : name })}
                aria-current={state === name ? 'page' : undefined}
              >
                {LISTS[name].tab}
              </a>{' '}
            </span>
          ))}
        </nav>
        {state === 'buried' ? (
          <p class="muted">
            Held back in beanstalkd with no outcome stored (a failed job that was buried shows as failed).
            Cancel one here, or make every buried job of a type ready again with "Kick all buried" above;
            retry is for failed jobs.
          </p>
        ) : null}
        <ReadError error={list.error} />
        <ActionResult state={action} summary={(answer) => JSON.stringify(answer)} />
        {list.data ? (
          <>
            <div class="table-scroll">
              <table class="jobs">
                <caption>
                  {shown.order} ({list.data.jobs.length} on this page)
                </caption>
                <ColumnHeads names={['id', 'type', 'state', shown.time, 'steer']} />
                <tbody>
                  {list.data.jobs.map((job) => (
                    <tr key={job.id} data-job={job.id}>
                      <td>
                        <IdLink page="jobs" id={job.id} />
                      </td>
                      <td>{job.type}</td>
                      <td>
                        <StateBadge state={job.state} />
                      </td>
                      <td>
                        <Time iso={state === 'buried' ? job.createdAt : job.finishedAt} />
                      </td>
                      <td class="actions">
                        <JobActions job={job} busy={action.busy} act={act} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {list.data.jobs.length === 0 ? <p>None on this page.</p> : null}
            <nav class="pages" aria-label="Pages">
              {cursor ? <a href={pageHref('/failed', { state })}>Newest</a> : null}{' '}
              {list.data.nextCursor ? (
                <a href={pageHref('/failed', { state, cursor: list.data.nextCursor })}>Older →</a>
              ) : null}
            </nav>
          </>
        ) : null}
      </section>
    </>
  );
}
