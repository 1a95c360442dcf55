/** The live workers (GET /workers, read every 5 s): their counts, durations and last heartbeats. */
import { useEffect, useState } from 'preact/hooks';
import { call, describeError } from './api';
import { Num, ReadError, Time } from './components';
import { formatDuration, formatNumber } from './format';
import { useAuthVersion, useNow, useRead } from './hooks';
import type { JobListAnswer, JobView, WorkersAnswer } from './types';

/** What a `metrics` job returns (src/handlers/host-metrics.ts). */
interface HostSample {
  worker: string;
  host: string;
  pid: number;
  cpus: number;
  cpuPercent: number;
  load: { '1m': number; '5m': number; '15m': number };
  memory: { totalBytes: number; freeBytes: number; processRssBytes: number };
  sampledAt: string;
}

/** The newest completed `metrics` jobs read, at most: each is one GET. */
const SAMPLES_READ = 10;
/** Pages of GET /jobs asked for them, at most. */
const LIST_PAGES = 5;

const bytes = (value: number) => `${formatNumber(Math.round(value / 1024 / 1024))} MiB`;

/**
 * Host figures, when `metrics` jobs ran: the newest result per worker process among the newest
 * completed ones. Read once and on request (each sample is one GET of its job), not polled.
 */
function HostSamples() {
  const version = useAuthVersion();
  const [round, setRound] = useState(0);
  const [samples, setSamples] = useState<HostSample[] | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  // Dependencies: `version` (the key changed) and `round` (Read again) are what read again.
  useEffect(() => {
    let stopped = false;
    (async () => {
      try {
        // A rare type may answer short pages with a cursor (GET /jobs reads at most ten records
        // per job asked for): follow a few pages before saying there are none.
        const found: string[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < LIST_PAGES && found.length < SAMPLES_READ; page += 1) {
          const query = `type=metrics&state=completed&limit=${SAMPLES_READ - found.length}`;
          const list: JobListAnswer = await call<JobListAnswer>(
            `jobs?${query}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
          );
          found.push(...list.jobs.map((job) => job.id));
          cursor = list.nextCursor;
          if (cursor === null) break;
        }
        const jobs = await Promise.all(found.map((id) => call<JobView>(`jobs/${id}?payload=false`)));
        const newest = new Map<string, HostSample>();
        for (const job of jobs) {
          const sample = job.result as HostSample | undefined;
          if (!sample || typeof sample.cpuPercent !== 'number') continue;
          const key = `${sample.host}:${sample.pid}`;
          const known = newest.get(key);
          if (!known || known.sampledAt < sample.sampledAt) newest.set(key, sample);
        }
        if (!stopped) {
          setSamples([...newest.values()].sort((a, b) => a.worker.localeCompare(b.worker)));
          setProblem(undefined);
        }
      } catch (error: unknown) {
        if (!stopped) setProblem(describeError(error));
      }
    })();
    return () => {
      stopped = true;
    };
  }, [version, round]);
  return (
    <section aria-labelledby="hosts-title">
      <h2 id="hosts-title">Hosts</h2>
      <p class="muted">
        From the newest completed <code>metrics</code> jobs (up to {SAMPLES_READ}): POST one per worker with{' '}
        <code>?type=metrics</code> to sample the machines.{' '}
        <button type="button" onClick={() => setRound((n) => n + 1)}>
          Read again
        </button>
      </p>
      {problem ? (
        <p class="error" role="alert">
          Could not read them: {problem}
        </p>
      ) : null}
      {samples && samples.length === 0 ? <p>No completed metrics job yet.</p> : null}
      {samples && samples.length > 0 ? (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">worker</th>
                <th scope="col">host</th>
                <th scope="col">CPUs</th>
                <th scope="col">CPU use</th>
                <th scope="col">load 1/5/15 min</th>
                <th scope="col">memory used</th>
                <th scope="col">worker's memory</th>
                <th scope="col">sampled</th>
              </tr>
            </thead>
            <tbody>
              {samples.map((sample) => (
                <tr key={`${sample.host}:${sample.pid}`}>
                  <th scope="row">{sample.worker}</th>
                  <td>{sample.host}</td>
                  <td>
                    <Num value={sample.cpus} />
                  </td>
                  <td>{formatNumber(sample.cpuPercent)} %</td>
                  <td>
                    {[sample.load['1m'], sample.load['5m'], sample.load['15m']]
                      .map((v) => formatNumber(v))
                      .join(' / ')}
                  </td>
                  <td>
                    {bytes(sample.memory.totalBytes - sample.memory.freeBytes)} of{' '}
                    {bytes(sample.memory.totalBytes)}
                  </td>
                  <td>{bytes(sample.memory.processRssBytes)}</td>
                  <td>
                    <Time iso={sample.sampledAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export function Workers() {
  const workers = useRead<WorkersAnswer>('workers', 5000);
  useNow(5000);
  const list = workers.data?.workers ?? [];
  return (
    <>
      <h1>Workers</h1>
      <ReadError error={workers.error} />
      {workers.data ? (
        <p class="muted">
          {formatNumber(list.length)} live: workers heard from within the last{' '}
          {formatDuration(workers.data.goneAfterMs)}. Counts are since each process started, as of its last
          heartbeat.
        </p>
      ) : null}
      <div class="table-scroll">
        <table class="workers">
          <thead>
            <tr>
              <th scope="col">worker</th>
              <th scope="col">host</th>
              <th scope="col">pid</th>
              <th scope="col">serves</th>
              <th scope="col">by type</th>
              <th scope="col">concurrency</th>
              <th scope="col">completed</th>
              <th scope="col">failed</th>
              <th scope="col">total</th>
              <th scope="col">average</th>
              <th scope="col">started</th>
              <th scope="col">last seen</th>
            </tr>
          </thead>
          <tbody>
            {list.map((worker) => (
              <tr key={worker.id} data-worker={worker.name}>
                <th scope="row" title={worker.id}>
                  {worker.name}
                </th>
                <td>{worker.host}</td>
                <td>{worker.pid}</td>
                <td>{worker.types.join(', ')}</td>
                <td>
                  {worker.byType.length > 0
                    ? worker.byType
                        .map(
                          (t) =>
                            `${t.type}: ${formatNumber(t.completed)} completed, ${formatNumber(t.failed)} failed`,
                        )
                        .join('; ')
                    : '—'}
                </td>
                <td>
                  <Num value={worker.concurrency} />
                </td>
                <td>
                  <Num value={worker.completed} />
                </td>
                <td>
                  <Num value={worker.failed} />
                </td>
                <td>
                  <Num value={worker.completed + worker.failed} />
                </td>
                <td>{worker.avgDurationMs === null ? '—' : formatDuration(worker.avgDurationMs)}</td>
                <td>
                  <Time iso={worker.startedAt} />
                </td>
                <td>
                  <Time iso={worker.lastSeen} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {workers.data && list.length === 0 ? <p>No live worker.</p> : null}
      <HostSamples />
    </>
  );
}
