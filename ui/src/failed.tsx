/**
 * Failed and cancelled jobs: the lists (GET /jobs?state=failed, ?state=cancelled, newest ended
 * first), retry or cancel one, and per type "retry all failed" (POST /types/<type>/retry-failed)
 * and "kick all buried" (POST /types/<type>/kick), with the API's answer shown as it came.
 */
import { call } from './api';
import { ActionResult, ConfirmButton, Num, ReadError, StateBadge, Time } from './components';
import { useAction, useNow, useRead } from './hooks';
import { pageHref } from './routes';
import type { JobListAnswer, StatsAnswer } from './types';

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

export function Failed({ params }: { params: URLSearchParams }) {
  const state = params.get('state') === 'cancelled' ? 'cancelled' : 'failed';
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
      <h1>Failed and cancelled</h1>
      <ByType reloadList={list.reload} />
      <section aria-labelledby="list-title">
        <h2 id="list-title">{state === 'failed' ? 'Failed jobs' : 'Cancelled jobs'}</h2>
        <nav class="tabs" aria-label="Which jobs">
          <a href={pageHref('/failed')} aria-current={state === 'failed' ? 'page' : undefined}>
            Failed
          </a>{' '}
          <a
            href={pageHref('/failed', { state: 'cancelled' })}
            aria-current={state === 'cancelled' ? 'page' : undefined}
          >
            Cancelled
          </a>
        </nav>
        <ReadError error={list.error} />
        <ActionResult state={action} summary={(answer) => JSON.stringify(answer)} />
        {list.data ? (
          <>
            <div class="table-scroll">
              <table class="jobs">
                <caption>Newest ended first ({list.data.jobs.length} on this page)</caption>
                <thead>
                  <tr>
                    <th scope="col">id</th>
                    <th scope="col">type</th>
                    <th scope="col">state</th>
                    <th scope="col">ended</th>
                    <th scope="col">steer</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.jobs.map((job) => (
                    <tr key={job.id} data-job={job.id}>
                      <td>
                        <a class="id" href={`#/jobs/${job.id}`}>
                          {job.id}
                        </a>
                      </td>
                      <td>{job.type}</td>
                      <td>
                        <StateBadge state={job.state} />
                      </td>
                      <td>
                        <Time iso={job.finishedAt} />
                      </td>
                      <td class="actions">
                        {job.state === 'failed' ? (
                          <>
                            <button
                              type="button"
                              aria-label={`Retry ${job.id}`}
                              disabled={action.busy}
                              onClick={() => act(`Retry ${job.id}`, 'POST', `jobs/${job.id}/retry`)}
                            >
                              Retry
                            </button>{' '}
                            <button
                              type="button"
                              aria-label={`Cancel ${job.id}`}
                              disabled={action.busy}
                              onClick={() => act(`Cancel ${job.id}`, 'DELETE', `jobs/${job.id}`)}
                            >
                              Cancel
                            </button>
                          </>
                        ) : (
                          <span class="muted">—</span>
                        )}
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
