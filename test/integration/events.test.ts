/**
 * `GET /events` on real servers (docs/completion-design.md): a stream on one manager tells
 * what happens to jobs accepted on another and run on a worker — accepted, started,
 * progress, completed, cancelled — filtered, resumable with `Last-Event-ID` within the window.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { loadWorkerConfig } from '../../src/config/config.js';
import { builtinHandlers, type Handler } from '../../src/handlers/index.js';
import { silentLogger } from '../../src/log.js';
import { type RunningWorker, startWorker } from '../../src/worker/worker.js';
import { type AppFixture, appFixture, workerEnvFor } from '../support/app-fixture.js';
import { waitFor } from '../support/harness.js';
import { openEvents, type SseClient, type SseEvent } from '../support/sse-client.js';

interface EventData {
  id: string;
  state: string;
  type?: string;
  percent?: number;
  data?: unknown;
  attempt?: number;
}

const parse = (event: SseEvent) => JSON.parse(event.data) as EventData;
const of = (client: SseClient, id: string) =>
  client.events.filter((e) => e.event !== 'reset' && parse(e).id === id);
const seq = (event: SseEvent) => Number(event.id?.split('-')[1]);

describe('server-sent events: GET /events on real servers', function () {
  this.timeout(60_000);
  let a: AppFixture;
  let b: AppFixture;
  let server: http.Server;
  let url: string;
  let worker: RunningWorker | undefined;
  const clients: SseClient[] = [];

  beforeEach(async () => {
    a = await appFixture({ label: 'events' });
    b = await appFixture({
      label: 'events-b',
      share: { tubePrefix: a.tubePrefix, dbName: a.dbName },
      events: { window: 50, resumeMs: 30_000, heartbeatMs: 200 },
    });
    server = http.createServer(b.app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await worker?.stop(2000);
    worker = undefined;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await b.close();
    await a.close();
  });

  const open = async (query = '', headers: Record<string, string> = {}) => {
    const client = await openEvents(`${url}/events${query}`, headers);
    clients.push(client);
    return client;
  };
  const post = async (type = 'hash', body = '{"n":1}') => {
    const res = await request(a.app.callback())
      .post(`/jobs?type=${type}`)
      .set('Content-Type', 'application/json')
      .send(body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };

  it('when jobs are accepted on one manager and run on a worker, then a stream on another tells accepted, started, progress and completed in order, filtered by type and id, and GET shows the progress while the job runs', async () => {
    const byType = await open('?type=hash');
    const all = await open();
    assert.equal(byType.status, 200);
    assert.match(String(byType.headers['content-type']), /^text\/event-stream/);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hash: Handler = async (_payload, context) => {
      context.progress(40, { step: 'half' });
      await gate;
      return { done: true };
    };
    worker = await startWorker(loadWorkerConfig({ ...workerEnvFor(a), WORKER_NAME: 'events' }), {
      handlers: new Map([...builtinHandlers(), ['hash', hash]]),
      log: silentLogger(),
    });
    const other = await post('metrics');
    const id = await post('hash');
    const byId = await open(`?id=${id}`);

    await waitFor('the progress event', () => of(byType, id).some((e) => e.event === 'progress'), 20_000);
    const progress = parse(of(byType, id).find((e) => e.event === 'progress') as SseEvent);
    assert.equal(progress.percent, 40);
    assert.deepEqual(progress.data, { step: 'half' });
    assert.equal(progress.attempt, 1);
    await waitFor('GET to show the progress', async () => {
      const res = await request(a.app.callback()).get(`/jobs/${id}`);
      return res.body.state === 'running' && res.body.progress?.percent === 40;
    });
    const running = (await request(a.app.callback()).get(`/jobs/${id}`)).body;
    assert.deepEqual(running.progress.data, { step: 'half' });

    release();
    await waitFor('the completed event', () => of(byType, id).some((e) => e.event === 'completed'), 20_000);
    assert.deepEqual(
      of(byType, id).map((e) => e.event),
      ['accepted', 'started', 'progress', 'completed'],
    );
    const ids = of(byType, id).map(seq);
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => x - y),
      'event ids increase',
    );
    assert.equal(of(byType, other).length, 0, 'a job of another type is filtered out');
    await waitFor('the other type on the unfiltered stream', () => of(all, other).length > 0);
    // Opened after the POST answered: it has the accept only if the follower read it after that.
    assert.deepEqual(
      of(byId, id)
        .map((e) => e.event)
        .filter((e) => e !== 'accepted'),
      ['started', 'progress', 'completed'],
      'the stream by id: that job',
    );
    assert.ok(byId.events.every((e) => parse(e).id === id));
    const done = (await request(a.app.callback()).get(`/jobs/${id}`)).body;
    assert.equal(done.state, 'completed');
    assert.equal(done.progress, undefined, 'a finished job shows its outcome, not its progress');
  });

  it('when a client reconnects with Last-Event-ID within the window, then it gets what it missed; otherwise a reset comes first', async () => {
    const first = await open();
    const before = await post();
    await waitFor('the first accept', () => of(first, before).length === 1);
    const last = first.events.at(-1)?.id as string;
    first.close();

    const missed = await post();
    assert.equal((await request(a.app.callback()).delete(`/jobs/${missed}`)).status, 200);
    const watch = await open();
    await waitFor('the cancel, live', () => of(watch, missed).some((e) => e.event === 'cancelled'), 20_000);

    const resumed = await open('', { 'Last-Event-ID': last });
    await waitFor('the missed events, replayed', () => of(resumed, missed).length >= 2);
    assert.deepEqual(
      of(resumed, missed).map((e) => e.event),
      ['accepted', 'cancelled'],
    );
    assert.equal(of(resumed, before).length, 0, 'nothing before Last-Event-ID again');
    assert.ok(!resumed.events.some((e) => e.event === 'reset'));

    const stranger = await open('', { 'Last-Event-ID': '0123abcd-5' });
    await waitFor('a reset', () => stranger.events.length > 0);
    assert.equal(stranger.events[0]?.event, 'reset');
    assert.match(JSON.parse(stranger.events[0]?.data ?? '{}').reason, /another manager or an earlier run/);

    // Past the window (50 events): the resume is refused with a reset.
    const ids: string[] = [];
    const batch = await request(a.app.callback())
      .post('/jobs/batch')
      .set('Content-Type', 'application/json')
      .send(Array.from({ length: 60 }, (_, n) => ({ payload: { n } })));
    assert.equal(batch.status, 202, JSON.stringify(batch.body));
    ids.push(...(batch.body.jobs as Array<{ id: string }>).map((j) => j.id));
    await waitFor('60 more accepts', () => ids.every((id) => of(watch, id).length > 0), 20_000);
    const late = await open('', { 'Last-Event-ID': last });
    await waitFor('a reset for a resume outside the window', () => late.events.length > 0);
    assert.equal(late.events[0]?.event, 'reset');
    assert.match(JSON.parse(late.events[0]?.data ?? '{}').reason, /outside the event window/);
  });

  it('when idle, then heartbeats keep the stream alive; bad filters are 400 INVALID_QUERY', async () => {
    const idle = await open();
    await waitFor('two heartbeats', () => idle.comments >= 3, 5000);
    for (const query of ['type=Bad!', 'id=42', 'group=x', 'type=hash&type=hash', 'id=', 'since=1']) {
      const res = await request(b.app.callback()).get(`/events?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'INVALID_QUERY', query);
    }
  });
});
