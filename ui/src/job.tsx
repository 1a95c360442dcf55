/**
 * One job: everything GET /jobs/<id> says, its retry and cancel buttons, and a curl command.
 * Live while it is not over: GET every 2 s (beanstalkd's fields such as time-left change without
 * any event), and at once on each of its events from GET /events?id=<id>, read with fetch so the
 * API key can go in a header (events.ts says why not EventSource).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { API_ORIGIN, auth, call } from './api';
import {
  ActionResult,
  ConfirmButton,
  CopyText,
  JsonBlock,
  Num,
  ReadError,
  StateBadge,
  Time,
} from './components';
import { followEvents } from './events';
import { formatDuration, formatNumber } from './format';
import { useAction, useAuthVersion, useRead } from './hooks';
import { ENDED, type JobView } from './types';

const LIVE_EVERY_MS = 2000;

function Row({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="row">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function QueueFields({ queue }: { queue: NonNullable<JobView['queue']> }) {
  const seconds = (value: number) => formatDuration(value * 1000);
  return (
    <section aria-labelledby="queue-title">
      <h2 id="queue-title">In beanstalkd now</h2>
      <dl class="details">
        <Row label="tube">{queue.tube}</Row>
        <Row label="priority">
          <Num value={queue.priority} />
        </Row>
        <Row label="age">{seconds(queue.age)}</Row>
        <Row label="delay">{seconds(queue.delay)}</Row>
        <Row label="time to run (TTR)">{seconds(queue.ttr)}</Row>
        <Row label="time left">
          {queue.timeLeft < 0 ? `${queue.timeLeft} s (overdue)` : seconds(queue.timeLeft)}
        </Row>
        <Row label="reserves">
          <Num value={queue.reserves} />
        </Row>
        <Row label="timeouts">
          <Num value={queue.timeouts} />
        </Row>
        <Row label="releases">
          <Num value={queue.releases} />
        </Row>
        <Row label="buries">
          <Num value={queue.buries} />
        </Row>
        <Row label="kicks">
          <Num value={queue.kicks} />
        </Row>
      </dl>
    </section>
  );
}

export function Job({ id }: { id: string }) {
  const version = useAuthVersion();
  const [over, setOver] = useState(false);
  const job = useRead<JobView>(`jobs/${encodeURIComponent(id)}`, over ? undefined : LIVE_EVERY_MS);
  const view = job.data;
  const error = job.error;
  const reload = useRef(job.reload);
  reload.current = job.reload;
  const [action, run] = useAction();

  useEffect(() => {
    if (view !== undefined) setOver(ENDED.has(view.state));
  }, [view]);
  // Dependencies: `version` (the API key changed) is what reconnects.
  useEffect(() => followEvents({ query: { id }, onEvent: () => reload.current() }), [id, version]);

  const act = (label: string, method: 'POST' | 'DELETE', path: string) =>
    run(label, async () => {
      const answer = await call(path, { method });
      job.reload();
      return answer;
    });
  const curl = `curl -s${auth.hasKey() ? ' -H "Authorization: Bearer $DW_API_KEY"' : ''} '${API_ORIGIN}jobs/${id}'`;

  return (
    <>
      <h1>
        Job <span class="id">{id}</span> {view ? <StateBadge state={view.state} /> : null}
      </h1>
      <ReadError error={view === undefined ? error : undefined} />
      {view === undefined ? (
        error === undefined ? (
          <p role="status">Loading…</p>
        ) : null
      ) : (
        <>
          <section aria-labelledby="steer-title">
            <h2 id="steer-title" class="visually-hidden">
              Steer this job
            </h2>
            <p class="actions">
              {view.state === 'failed' ? (
                <button
                  type="button"
                  disabled={action.busy}
                  onClick={() => act('Retry', 'POST', `jobs/${encodeURIComponent(id)}/retry`)}
                >
                  Retry
                </button>
              ) : null}{' '}
              {view.state !== 'completed' && view.state !== 'cancelled' ? (
                <ConfirmButton
                  question="Cancel this job?"
                  disabled={action.busy}
                  onConfirm={() => act('Cancel', 'DELETE', `jobs/${encodeURIComponent(id)}`)}
                >
                  Cancel job
                </ConfirmButton>
              ) : null}
            </p>
            <ActionResult state={action} summary={(answer) => JSON.stringify(answer)} />
          </section>
          <section aria-labelledby="about-title">
            <h2 id="about-title">About it</h2>
            <dl class="details" data-state={view.state}>
              <Row label="state">
                <StateBadge state={view.state} /> {over ? null : <span class="muted">(live)</span>}
              </Row>
              <Row label="type">{view.type}</Row>
              <Row label="created">
                <Time iso={view.createdAt} absolute />
              </Row>
              <Row label="attempts">
                {formatNumber(view.attempts)}
                {view.maxAttempts === undefined ? '' : ` of ${formatNumber(view.maxAttempts)}`}
              </Row>
              {view.worker ? <Row label="worker">{view.worker}</Row> : null}
              {view.startedAt ? (
                <Row label="started">
                  <Time iso={view.startedAt} absolute />
                </Row>
              ) : null}
              {view.finishedAt ? (
                <Row label="finished">
                  <Time iso={view.finishedAt} absolute />
                </Row>
              ) : null}
              {view.durationMs === undefined ? null : (
                <Row label="took">{formatDuration(view.durationMs)}</Row>
              )}
              {view.onCompleteOf ? (
                <Row label="runs after group">
                  <a class="id" href={`#/groups/${view.onCompleteOf}`}>
                    {view.onCompleteOf}
                  </a>
                </Row>
              ) : null}
              {view.group ? (
                <Row label="group">
                  <a class="id" href={`#/groups/${view.group}`}>
                    {view.group}
                  </a>
                </Row>
              ) : null}
            </dl>
          </section>
          {view.dependsOn ? (
            <section aria-labelledby="parents-title">
              <h2 id="parents-title">Waits for</h2>
              <p class="muted">
                On a parent that failed or was cancelled: <strong>{view.onParentFailure ?? 'fail'}</strong>
              </p>
              <ul class="parents">
                {view.dependsOn.map((parent) => (
                  <li key={parent.id}>
                    <a class="id" href={`#/jobs/${parent.id}`}>
                      {parent.id}
                    </a>{' '}
                    <StateBadge state={parent.state} />
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
          {view.progress ? (
            <section aria-labelledby="progress-title">
              <h2 id="progress-title">Progress</h2>
              <p>
                <label for="job-progress">{formatNumber(view.progress.percent)} %</label>{' '}
                <progress id="job-progress" max={100} value={view.progress.percent} />{' '}
                <Time iso={view.progress.at} />
              </p>
              {view.progress.data === undefined ? null : <JsonBlock value={view.progress.data} />}
            </section>
          ) : null}
          {view.queue ? <QueueFields queue={view.queue} /> : null}
          {view.result === undefined ? null : (
            <section aria-labelledby="result-title">
              <h2 id="result-title">Result</h2>
              <JsonBlock value={view.result} />
            </section>
          )}
          {view.error ? (
            <section aria-labelledby="error-title">
              <h2 id="error-title">Error</h2>
              <pre class="error-text">{view.error.message}</pre>
            </section>
          ) : null}
          {view.errors && view.errors.length > 0 ? (
            <section aria-labelledby="attempts-title">
              <h2 id="attempts-title">Failed attempts</h2>
              <ol class="attempts">
                {view.errors.map((attempt) => (
                  <li key={`${attempt.attempt}-${attempt.at}`}>
                    Attempt {attempt.attempt} on {attempt.worker}, <Time iso={attempt.at} />:
                    <pre class="error-text">{attempt.error}</pre>
                  </li>
                ))}
              </ol>
            </section>
          ) : null}
          {view.webhook ? (
            <section aria-labelledby="webhook-title">
              <h2 id="webhook-title">Webhook</h2>
              <dl class="details">
                <Row label="URL">{view.webhook.url}</Row>
                <Row label="delivered">
                  {view.webhook.delivered ? 'yes' : view.webhook.gaveUp ? 'gave up' : 'not yet'}
                </Row>
                <Row label="attempts">{formatNumber(view.webhook.attempts)}</Row>
                {view.webhook.lastStatus === undefined ? null : (
                  <Row label="last status">{String(view.webhook.lastStatus)}</Row>
                )}
                {view.webhook.lastAttemptAt ? (
                  <Row label="last attempt">
                    <Time iso={view.webhook.lastAttemptAt} />
                  </Row>
                ) : null}
                {view.webhook.deliveryId ? <Row label="delivery id">{view.webhook.deliveryId}</Row> : null}
              </dl>
            </section>
          ) : null}
          {view.payload === undefined ? null : (
            <section aria-labelledby="payload-title">
              <h2 id="payload-title">Payload</h2>
              <JsonBlock value={view.payload} />
            </section>
          )}
          <section aria-labelledby="curl-title">
            <h2 id="curl-title">From a terminal</h2>
            <CopyText text={curl} />
            {auth.hasKey() ? (
              <p class="muted">Set DW_API_KEY to your key first; the page never puts a key in a command.</p>
            ) : null}
          </section>
        </>
      )}
    </>
  );
}
