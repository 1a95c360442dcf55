/**
 * Matrix groups: GET /groups/<id> (progress, counts, failures, results once done), found by id
 * or among the groups of the newest jobs (the API has no list of groups: GET /jobs names each
 * job's group, so the newest 100 jobs are asked, and labelled as such).
 */
import { useEffect, useState } from 'preact/hooks';
import { JsonBlock, Num, ReadError, StateBadge } from './components';
import { formatNumber } from './format';
import { useRead } from './hooks';
import { ID_PATTERN } from './routes';
import type { GroupAnswer, JobListAnswer } from './types';

function FindGroup() {
  const [problem, setProblem] = useState<string | undefined>(undefined);
  return (
    <form
      class="inline-form"
      aria-label="Find a group"
      onSubmit={(event) => {
        event.preventDefault();
        const id = String(new FormData(event.currentTarget).get('group') ?? '').trim();
        if (!ID_PATTERN.test(id)) {
          setProblem('not a group id (the `group` a POST /jobs/matrix answered)');
          return;
        }
        setProblem(undefined);
        location.hash = `#/groups/${id.toLowerCase()}`;
      }}
    >
      <label for="group-id">Group id</label>
      <input id="group-id" name="group" type="search" autocomplete="off" spellcheck={false} size={38} />
      <button type="submit">Show group</button>
      {problem ? (
        <span class="error" role="alert">
          {problem}
        </span>
      ) : null}
    </form>
  );
}

export function Groups() {
  const newest = useRead<JobListAnswer>('jobs?limit=100');
  const seen: string[] = [];
  for (const job of newest.data?.jobs ?? []) if (job.group && !seen.includes(job.group)) seen.push(job.group);
  return (
    <>
      <h1>Groups</h1>
      <FindGroup />
      <section aria-labelledby="recent-title">
        <h2 id="recent-title">Groups among the 100 newest jobs</h2>
        <ReadError error={newest.error} />
        {newest.data && seen.length === 0 ? <p>None: no matrix job among the newest 100 jobs.</p> : null}
        <ul>
          {seen.map((group) => (
            <li key={group}>
              <a class="id" href={`#/groups/${group}`}>
                {group}
              </a>
            </li>
          ))}
        </ul>
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
