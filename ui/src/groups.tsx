/**
 * Matrix groups: the list (GET /groups, newest first, each with its progress, in cursor pages),
 * a group found by id, and one group (GET /groups/<id>: progress, counts, failures, results
 * once done).
 */
import { useEffect, useState } from 'preact/hooks';
import { ColumnHeads, GoToId, IdLink, JsonBlock, Num, ReadError, StateBadge, Time } from './components';
import { formatNumber } from './format';
import { useNow, useRead } from './hooks';
import { pageHref } from './routes';
import type { GroupAnswer, GroupListAnswer, GroupListItem } from './types';

function FindGroup() {
  return (
    <GoToId
      page="groups"
      title="Find a group"
      inputId="group-id"
      label="Group id"
      button="Show group"
      notAnId="not a group id (the `group` a POST /jobs/matrix answered)"
    />
  );
}

/** A listed group's progress: a bar, "finished of jobs", and its counts by state. */
function GroupRow({ group }: { group: GroupListItem }) {
  return (
    <tr data-group={group.id}>
      <td>
        <IdLink page="groups" id={group.id} />
      </td>
      <td>{group.type}</td>
      <td>
        <Time iso={group.createdAt} />
      </td>
      <td>
        <progress
          max={Math.max(1, group.jobs)}
          value={group.finished}
          aria-label={`Group ${group.id}: ${group.finished} of ${group.jobs} finished`}
        />{' '}
        <span class="progress-text">
          {formatNumber(group.finished)} of {formatNumber(group.jobs)}
          {group.done ? ' (done)' : ''}
        </span>
      </td>
      <td>
        {Object.entries(group.counts).map(([state, count]) => (
          <span key={state} class="count">
            <StateBadge state={state} /> <Num value={count} />{' '}
          </span>
        ))}
      </td>
    </tr>
  );
}

/** Every 5 s while a listed group has jobs left. */
const LIST_REFRESH_MS = 5000;

export function Groups({ params }: { params: URLSearchParams }) {
  const cursor = params.get('cursor') ?? undefined;
  const [open, setOpen] = useState(true);
  const query = new URLSearchParams({ limit: '20', ...(cursor ? { cursor } : {}) }).toString();
  const list = useRead<GroupListAnswer>(`groups?${query}`, open ? LIST_REFRESH_MS : undefined);
  const groups = list.data?.groups;
  useEffect(() => {
    if (groups) setOpen(groups.some((group) => !group.done));
  }, [groups]);
  useNow(15_000);
  return (
    <>
      <h1>Groups</h1>
      <FindGroup />
      <section aria-labelledby="groups-title">
        <h2 id="groups-title">{cursor ? 'Older groups' : 'Newest groups'}</h2>
        <ReadError error={list.error} />
        {list.loading && list.data === undefined ? <p role="status">Loading…</p> : null}
        {list.data ? (
          <>
            <div class="table-scroll">
              <table class="groups">
                <caption>
                  Newest first, by when each group's fan-out began ({list.data.groups.length} on this page)
                </caption>
                <ColumnHeads names={['group', 'type', 'created', 'progress', 'counts']} />
                <tbody>
                  {list.data.groups.map((group) => (
                    <GroupRow key={group.id} group={group} />
                  ))}
                </tbody>
              </table>
            </div>
            {list.data.groups.length === 0 ? (
              <p>
                {list.data.nextCursor
                  ? 'No group on this page: the groups it found had no jobs accepted (yet). Older ones may follow.'
                  : 'No group (yet): POST /jobs/matrix creates one.'}
              </p>
            ) : null}
            <nav class="pages" aria-label="Pages of groups">
              {cursor ? <a href={pageHref('/groups')}>Newest groups</a> : null}{' '}
              {list.data.nextCursor ? (
                <a href={pageHref('/groups', { cursor: list.data.nextCursor })}>Older groups →</a>
              ) : (
                <span class="muted">No older groups.</span>
              )}
            </nav>
          </>
        ) : null}
      </section>
    </>
  );
}

const combinationText = (value: unknown) =>
  Object.entries((value ?? {}) as Record<string, unknown>)
    .map(([axis, v]) => `${axis}=${String(v)}`)
    .join(', ');

export function Group({ id }: { id: string }) {
  const [done, setDone] = useState(false);
  const group = useRead<GroupAnswer>(`groups/${encodeURIComponent(id)}`, done ? undefined : 2000);
  const view = group.data;
  useEffect(() => {
    if (view?.done) setDone(true);
  }, [view]);
  return (
    <>
      <h1>
        Group <span class="id">{id}</span>
      </h1>
      <FindGroup />
      <ReadError error={group.error} />
      {view ? (
        <>
          <section aria-labelledby="group-progress-title">
            <h2 id="group-progress-title">Progress</h2>
            <p>
              <label for="group-progress">
                {formatNumber(view.finished)} of {formatNumber(view.total)} finished
                {view.done ? ' (done)' : ''}
              </label>{' '}
              <progress id="group-progress" max={Math.max(1, view.total)} value={view.finished} />
            </p>
            <dl class="figures">
              {Object.entries(view.counts).map(([state, count]) => (
                <div class="figure" key={state}>
                  <dt>
                    <StateBadge state={state} />
                  </dt>
                  <dd>
                    <Num value={count} />
                  </dd>
                </div>
              ))}
              <div class="figure">
                <dt>type</dt>
                <dd>{view.type}</dd>
              </div>
              <div class="figure">
                <dt>excluded</dt>
                <dd>
                  <Num value={view.excluded} />
                </dd>
              </div>
              <div class="figure">
                <dt>per second</dt>
                <dd>
                  <Num value={view.throughputPerSecond} />
                </dd>
              </div>
            </dl>
            <p>
              <a href={`#/jobs?group=${id}`}>Its jobs</a>
              {view.onComplete ? (
                <>
                  {' · '}
                  <a class="id" href={`#/jobs/${view.onComplete}`}>
                    Its completion job
                  </a>
                </>
              ) : null}
            </p>
          </section>
          {view.failures.length > 0 ? (
            <section aria-labelledby="group-failures-title">
              <h2 id="group-failures-title">Failures</h2>
              <ul>
                {view.failures.map((failure) => (
                  <li key={String(failure.id)}>
                    <a class="id" href={`#/jobs/${String(failure.id)}`}>
                      {combinationText(failure.combination)}
                    </a>
                    : {String(failure.error ?? '')}
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
          {view.results ? (
            <section aria-labelledby="group-results-title">
              <h2 id="group-results-title">Results</h2>
              <div class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">combination</th>
                      <th scope="col">result</th>
                    </tr>
                  </thead>
                  <tbody>
                    {view.results.map((row) => (
                      <tr key={String(row.id)}>
                        <td>
                          <a href={`#/jobs/${String(row.id)}`}>{combinationText(row.combination)}</a>
                        </td>
                        <td>
                          {row.resultOmitted ? (
                            <span class="muted">over 2 KB: open the job</span>
                          ) : (
                            <JsonBlock value={row.result} />
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          ) : (
            <p class="muted">Results show once every job of the group has finished.</p>
          )}
        </>
      ) : null}
    </>
  );
}
