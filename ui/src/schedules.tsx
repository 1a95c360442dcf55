/**
 * Schedules (GET /schedules): each with when it ticks, its next runs and its latest job, and
 * buttons to pause, resume or delete it. Made with POST /schedules (the curl below).
 */
import { API_ORIGIN, call } from './api';
import { ActionResult, ColumnHeads, ConfirmButton, CopyText, IdLink, ReadError, Time } from './components';
import { useAction, useNow, useRead } from './hooks';
import type { ScheduleListAnswer, ScheduleView } from './types';

/** Read again every 5 s: next and last runs move on. */
const REFRESH_MS = 5000;

/** "0 3 * * * (Europe/Berlin)" or "every 30 s". */
function when(schedule: ScheduleView): string {
  if (schedule.every_seconds !== undefined) return `every ${schedule.every_seconds} s`;
  return `${schedule.cron ?? ''} (${schedule.timezone})`;
}

function ScheduleRow({
  schedule,
  busy,
  act,
}: {
  schedule: ScheduleView;
  busy: boolean;
  act(label: string, method: 'POST' | 'DELETE', path: string): void;
}) {
  const name = encodeURIComponent(schedule.name);
  return (
    <tr data-schedule={schedule.name}>
      <th scope="row">{schedule.name}</th>
      <td>
        <code>{when(schedule)}</code>
      </td>
      <td>{schedule.type}</td>
      <td data-next>
        {schedule.paused ? (
          <span class="muted">paused</span>
        ) : (
          <span title={schedule.nextRuns.join('\n')}>
            <Time iso={schedule.nextRunAt ?? undefined} />
          </span>
        )}
      </td>
      <td>
        <Time iso={schedule.lastRunAt} />
        {schedule.lastJobId ? (
          <>
            {' '}
            <IdLink page="jobs" id={schedule.lastJobId} />
          </>
        ) : null}
        {schedule.lastError ? (
          <p class="error">
            tick {schedule.lastError.tick} refused: {schedule.lastError.code}
          </p>
        ) : null}
      </td>
      <td data-state>{schedule.paused ? 'paused' : 'active'}</td>
      <td class="actions">
        {schedule.paused ? (
          <button
            type="button"
            aria-label={`Resume ${schedule.name}`}
            disabled={busy}
            onClick={() => act(`Resume ${schedule.name}`, 'POST', `schedules/${name}/resume`)}
          >
            Resume
          </button>
        ) : (
          <button
            type="button"
            aria-label={`Pause ${schedule.name}`}
            disabled={busy}
            onClick={() => act(`Pause ${schedule.name}`, 'POST', `schedules/${name}/pause`)}
          >
            Pause
          </button>
        )}{' '}
        <ConfirmButton
          question={`Delete schedule ${schedule.name}? (its jobs stay)`}
          disabled={busy}
          onConfirm={() => act(`Delete ${schedule.name}`, 'DELETE', `schedules/${name}`)}
        >
          Delete
        </ConfirmButton>
      </td>
    </tr>
  );
}

export function Schedules() {
  const list = useRead<ScheduleListAnswer>('schedules', REFRESH_MS);
  useNow(5000);
  const [action, run] = useAction();
  const act = (label: string, method: 'POST' | 'DELETE', path: string) =>
    run(label, async () => {
      const answer = await call(path, { method });
      list.reload();
      return answer;
    });
  const example = `curl -s -X POST '${API_ORIGIN}schedules' -H 'Content-Type: application/json' \\
  -d '{"name": "nightly", "cron": "0 3 * * *", "timezone": "UTC", "payload": {"report": "nightly"}}'`;
  return (
    <>
      <h1>Schedules</h1>
      <section aria-labelledby="schedules-title">
        <h2 id="schedules-title">Every schedule</h2>
        <ReadError error={list.error} />
        <ActionResult state={action} />
        {list.loading && list.data === undefined ? <p role="status">Loading…</p> : null}
        {list.data ? (
          <div class="table-scroll">
            <table class="schedules">
              <caption>
                One job at each tick, by name ({list.data.schedules.length}); hover a next run for the ones
                after it
              </caption>
              <ColumnHeads names={['name', 'when', 'type', 'next run', 'last run', 'state', 'actions']} />
              <tbody>
                {list.data.schedules.map((schedule) => (
                  <ScheduleRow key={schedule.name} schedule={schedule} busy={action.busy} act={act} />
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {list.data?.schedules.length === 0 ? <p>No schedule (yet): POST /schedules makes one.</p> : null}
      </section>
      <section aria-labelledby="make-title">
        <h2 id="make-title">Make one</h2>
        <CopyText text={example} />
      </section>
    </>
  );
}
