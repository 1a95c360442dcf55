/**
 * The overview: readiness of beanstalkd and MongoDB, totals, jobs per type with pause and
 * resume, and the live throughput chart (how its data is gathered: throughput.ts).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { call } from './api';
import { ThroughputChart } from './chart';
import { ActionResult, Figure, Num, ReadError, Time } from './components';
import { followEvents, type StreamState } from './events';
import { formatDuration, formatNumber } from './format';
import { useAction, useAuthVersion, useRead } from './hooks';
import { chartData, FIVE_MINUTES, HOUR_SECONDS } from './throughput';
import type { ReadyAnswer, StatsAnswer } from './types';

/** GET /stats every 2 s: counts, and the chart's series. */
const STATS_EVERY_MS = 2000;

const PAUSE_CHOICES: ReadonlyArray<[number, string]> = [
  [60, '1 minute'],
  [300, '5 minutes'],
  [900, '15 minutes'],
  [3600, '1 hour'],
  [86_400, '1 day'],
];

const WINDOWS: ReadonlyArray<[typeof FIVE_MINUTES | typeof HOUR_SECONDS, string]> = [
  [FIVE_MINUTES, 'Last 5 minutes'],
  [HOUR_SECONDS, 'Last hour'],
];

function Health() {
  const ready = useRead<ReadyAnswer>('readyz', 5000, [503]);
  const state = (name: string, value: string | undefined) => (
    <div class="figure">
      <dt>{name}</dt>
      <dd>
        <span class={`health health-${value ?? 'unknown'}`} data-backend={name}>
          {value === undefined ? 'unknown' : value === 'ok' ? 'reachable' : 'unavailable'}
        </span>
      </dd>
    </div>
  );
  return (
    <section aria-labelledby="health-title">
      <h2 id="health-title">Health</h2>
      <ReadError error={ready.error} />
      <dl class="figures">
        {state('beanstalkd', ready.data?.beanstalkd)}
        {state('MongoDB', ready.data?.mongodb)}
      </dl>
    </section>
  );
}

/** After an event, /stats is read again this soon at the earliest (it is read every 2 s anyway). */
const REFRESH_AFTER_EVENT_MS = 500;

function Throughput({ stats, reload }: { stats: StatsAnswer | undefined; reload(): void }) {
  const [windowSeconds, setWindowSeconds] = useState<typeof FIVE_MINUTES | typeof HOUR_SECONDS>(FIVE_MINUTES);
  const [stream, setStream] = useState<StreamState>('connecting');
  const [events, setEvents] = useState(0);
  const version = useAuthVersion();
  const reloadRef = useRef(reload);
  reloadRef.current = reload;

  // The event stream makes the counts move sooner than the next poll: an event asks for /stats
  // again, at most once per REFRESH_AFTER_EVENT_MS. Dependencies: `version` (the API key
  // changed) is what reconnects.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = followEvents({
      onEvent(event) {
        if (event.event === 'message' || event.event === 'reset') return;
        setEvents((n) => n + 1);
        timer ??= setTimeout(() => {
          timer = undefined;
          reloadRef.current();
        }, REFRESH_AFTER_EVENT_MS);
      },
      onState: setStream,
    });
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [version]);
  const data = useMemo(() => chartData(stats, windowSeconds), [stats, windowSeconds]);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const hour = windowSeconds === HOUR_SECONDS;
  const summary = `Jobs per ${hour ? 'minute over the last hour' : 'second over the last 5 minutes'}: ${formatNumber(sum(data[1]))} accepted, ${formatNumber(sum(data[2]))} completed, ${formatNumber(sum(data[3]))} failed.`;
  return (
    <section aria-labelledby="throughput-title">
      <h2 id="throughput-title">Throughput</h2>
      <fieldset class="choices">
        <legend>Time range</legend>
        {WINDOWS.map(([seconds, label]) => (
          <label key={seconds}>
            <input
              type="radio"
              name="window"
              value={seconds}
              checked={windowSeconds === seconds}
              onChange={() => setWindowSeconds(seconds)}
            />{' '}
            {label}
          </label>
        ))}
      </fieldset>
      <figure
        class="throughput"
        data-window={windowSeconds}
        data-points={data[0].length}
        data-last={data[0].at(-1) ?? ''}
        data-accepted={sum(data[1])}
        data-completed={sum(data[2])}
        data-failed={sum(data[3])}
        data-stream={stream}
        data-events={events}
      >
        <ThroughputChart data={data} summary={summary} unit={hour ? 'minute' : 'second'} />
        <figcaption>
          {summary} From GET /stats, which sums the managers' heartbeats (accepted, every 2 s) and the
          workers' (completed and failed, every 5 s by default): the last{' '}
          {hour ? 'minute is still filling' : 'seconds fill in as they report'}. Read every 2 s, and soon
          after each event (event stream {stream}).
        </figcaption>
      </figure>
    </section>
  );
}

function Types({ stats, reload }: { stats: StatsAnswer | undefined; reload(): void }) {
  const [pauseSeconds, setPauseSeconds] = useState(300);
  const [action, run] = useAction();
  const steer = (label: string, path: string) =>
    run(label, async () => {
      const answer = await call(path, { method: 'POST' });
      reload();
      return answer;
    });
  return (
    <section aria-labelledby="types-title">
      <h2 id="types-title">Jobs by type</h2>
      <p>
        <label>
          Pause for{' '}
          <select value={pauseSeconds} onChange={(e) => setPauseSeconds(Number(e.currentTarget.value))}>
            {PAUSE_CHOICES.map(([seconds, label]) => (
              <option key={seconds} value={seconds}>
                {label}
              </option>
            ))}
          </select>
        </label>{' '}
        <span class="muted">A paused type's jobs wait in beanstalkd; nothing is lost.</span>
      </p>
      <ActionResult state={action} summary={(a) => JSON.stringify(a)} />
      <div class="table-scroll">
        <table class="types">
          <thead>
            <tr>
              <th scope="col">type</th>
              <th scope="col">ready</th>
              <th scope="col">delayed</th>
              <th scope="col">running</th>
              <th scope="col">buried</th>
              <th scope="col">completed</th>
              <th scope="col">failed</th>
              <th scope="col">cancelled</th>
              <th scope="col">paused</th>
              <th scope="col">steer</th>
            </tr>
          </thead>
          <tbody>
            {(stats?.types ?? []).map((row) => (
              <tr key={row.type} data-type={row.type}>
                <th scope="row">
                  <a href={`#/jobs?type=${encodeURIComponent(row.type)}`}>{row.type}</a>
                </th>
                <td>
                  <Num value={row.queued} />
                </td>
                <td>
                  <Num value={row.delayed} />
                </td>
                <td>
                  <Num value={row.running} />
                </td>
                <td>
                  <Num value={row.buried} />
                </td>
                <td>
                  <Num value={row.completed} />
                </td>
                <td>
                  <Num value={row.failed} />
                </td>
                <td>
                  <Num value={row.cancelled} />
                </td>
                <td data-paused={row.pausedSeconds > 0 ? 'yes' : 'no'}>
                  {row.pausedSeconds > 0 ? `yes, ${formatDuration(row.pausedSeconds * 1000)} left` : 'no'}
                </td>
                <td class="actions">
                  <button
                    type="button"
                    aria-label={`Pause ${row.type}`}
                    disabled={action.busy}
                    onClick={() =>
                      steer(
                        `Pause ${row.type}`,
                        `types/${encodeURIComponent(row.type)}/pause?seconds=${pauseSeconds}`,
                      )
                    }
                  >
                    Pause
                  </button>{' '}
                  <button
                    type="button"
                    aria-label={`Resume ${row.type}`}
                    disabled={action.busy || row.pausedSeconds === 0}
                    onClick={() =>
                      steer(`Resume ${row.type}`, `types/${encodeURIComponent(row.type)}/resume`)
                    }
                  >
                    Resume
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function Overview() {
  const stats = useRead<StatsAnswer>('stats', STATS_EVERY_MS);
  const data = stats.data;
  return (
    <>
      <h1>Overview</h1>
      <ReadError error={stats.error} />
      <Health />
      <section aria-labelledby="totals-title">
        <h2 id="totals-title">Totals</h2>
        <dl class="figures">
          <Figure label="ready" value={data?.totals.queued} />
          <Figure label="delayed" value={data?.totals.delayed} />
          <Figure label="running" value={data?.totals.running} />
          <Figure label="buried" value={data?.totals.buried} />
          <Figure label="completed" value={data?.totals.completed} />
          <Figure label="failed" value={data?.totals.failed} />
          <Figure label="cancelled" value={data?.totals.cancelled} />
          <Figure label="live workers" value={data?.workers.live} />
          <Figure
            label="per second (last minute)"
            value={data?.throughput.lastMinute.perSecond}
            hint="completed and failed per second over the last minute"
          />
        </dl>
        {data ? (
          <p class="muted">
            Counted <Time iso={data.at} />. Completed, failed and cancelled are outcomes stored so far (a job
            retried counts each outcome it had).
          </p>
        ) : null}
      </section>
      <Throughput stats={data} reload={stats.reload} />
      <Types stats={data} reload={stats.reload} />
    </>
  );
}
