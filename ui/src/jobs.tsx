/** The job list: GET /jobs newest first, with its filters, going to a job by id, and cursor pages. */
import { GoToId, ReadError, StateBadge, Time } from './components';
import { useNow, useRead } from './hooks';
import { pageHref } from './routes';
import { JOB_STATES, type JobListAnswer } from './types';

const FILTERS = ['state', 'type', 'group', 'created_after', 'created_before'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number] | 'cursor', string>>;

/** An ISO time as a datetime-local input shows it (the reader's own zone). */
function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const local = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** A datetime-local input's value (the reader's zone) as the ISO time the API takes. */
function fromLocalInput(value: string): string | undefined {
  if (value === '') return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function GoToJob() {
  return (
    <GoToId
      page="jobs"
      title="Go to a job"
      inputId="job-id"
      label="Job id"
      button="Go to job"
      notAnId="not a job id (a UUID such as 01a22e54-41d1-74f5-9538-6fa7291a9750)"
    />
  );
}

function FilterForm({ filters }: { filters: Filters }) {
  return (
    <form
      class="filters"
      aria-label="Filter jobs"
      key={JSON.stringify(filters)}
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        const text = (name: string) => String(form.get(name) ?? '').trim() || undefined;
        location.hash = pageHref('/jobs', {
          state: text('state'),
          type: text('type'),
          group: text('group'),
          created_after: fromLocalInput(String(form.get('created_after') ?? '')),
          created_before: fromLocalInput(String(form.get('created_before') ?? '')),
        });
      }}
    >
      <label>
        State
        <select name="state" defaultValue={filters.state ?? ''}>
          <option value="">any</option>
          {JOB_STATES.map((state) => (
            <option key={state} value={state}>
              {state}
            </option>
          ))}
        </select>
      </label>
      <label>
        Type
        <input name="type" defaultValue={filters.type ?? ''} autocomplete="off" size={12} />
      </label>
      <label>
        Group
        <input name="group" defaultValue={filters.group ?? ''} autocomplete="off" size={38} />
      </label>
      <label>
        Created after
        <input
          type="datetime-local"
          name="created_after"
          defaultValue={toLocalInput(filters.created_after)}
        />
      </label>
      <label>
        Created before
        <input
          type="datetime-local"
          name="created_before"
          defaultValue={toLocalInput(filters.created_before)}
        />
      </label>
      <button type="submit">Filter</button> <a href="#/jobs">Clear</a>
    </form>
  );
}

export function Jobs({ params }: { params: URLSearchParams }) {
  const filters: Filters = {};
  for (const name of [...FILTERS, 'cursor'] as const) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  const query = new URLSearchParams({ ...filters, limit: '50' }).toString();
  const list = useRead<JobListAnswer>(`jobs?${query}`);
  // "3 minutes ago" stays true while the list stays put.
  useNow(15_000);
  const { cursor: _cursor, ...withoutCursor } = filters;
  return (
    <>
      <h1>Jobs</h1>
      <GoToJob />
      <FilterForm filters={withoutCursor} />
      <ReadError error={list.error} />
      {list.loading && list.data === undefined ? <p role="status">Loading…</p> : null}
      {list.data ? (
        <>
          <div class="table-scroll">
            <table class="jobs">
              <caption>
                {filters.cursor ? 'Older jobs' : 'Newest jobs'}
                {filters.state ? `, ${filters.state}` : ''}
                {filters.type ? `, of type ${filters.type}` : ''}
                {filters.group ? ', in one group' : ''} ({list.data.jobs.length} on this page)
              </caption>
              <thead>
                <tr>
                  <th scope="col">id</th>
                  <th scope="col">type</th>
                  <th scope="col">state</th>
                  <th scope="col">created</th>
                  <th scope="col">finished</th>
                  <th scope="col">group</th>
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
                      <Time iso={job.createdAt} />
                    </td>
                    <td>
                      <Time iso={job.finishedAt} />
                    </td>
                    <td>
                      {job.group ? (
                        <a class="id" href={`#/groups/${job.group}`}>
                          {job.group.slice(0, 8)}…
                        </a>
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data.jobs.length === 0 ? <p>No job matches on this page.</p> : null}
          <nav class="pages" aria-label="Pages of jobs">
            {filters.cursor ? <a href={pageHref('/jobs', withoutCursor)}>Newest jobs</a> : null}{' '}
            {list.data.nextCursor ? (
              <a href={pageHref('/jobs', { ...withoutCursor, cursor: list.data.nextCursor })}>Older jobs →</a>
            ) : (
              <span class="muted">No older jobs.</span>
            )}
          </nav>
        </>
      ) : null}
    </>
  );
}
