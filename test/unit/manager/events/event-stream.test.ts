/**
 * GET /events over a real socket, above a stand-in follower (manager/events/event-hub.ts,
 * http/handlers/events.ts): the window and resets, filters, the bound on streams, a client that
 * does not read, and a hub that closes.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { silentLogger } from '../../../../src/log.js';
import { EventHub, matches } from '../../../../src/manager/events/event-hub.js';
import { errorBoundary } from '../../../../src/manager/http/error-boundary.js';
import { eventHandlers } from '../../../../src/manager/http/handlers/events.js';
import type { FollowedEvent, NoticeListener } from '../../../../src/manager/jobs/completion-follower.js';
import { waitFor } from '../../../support/harness.js';
import { openEvents, type SseClient } from '../../../support/sse-client.js';

const ID = '01a20000-0000-7000-8000-000000000001';
const OTHER = '01a20000-0000-7000-8000-000000000002';
const at = new Date('2026-12-01T00:00:00Z');

/** A follower whose events the test pushes. */
function standInFollower() {
  const listeners = new Set<NoticeListener>();
  return {
    listeners,
    subscribe: async (listener: NoticeListener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    push(...events: FollowedEvent[]) {
      for (const listener of listeners) listener.events(events);
    },
    gap() {
      for (const listener of listeners) listener.gap();
    },
  };
}

describe('event streams (manager/events, GET /events) over a stand-in follower', () => {
  let server: http.Server;
  let url: string;
  let hub: EventHub;
  let follower: ReturnType<typeof standInFollower>;
  let dropped = 0;
  const clients: SseClient[] = [];

  const start = async (
    options: { window?: number; maxStreams?: number; maxBufferBytes?: number; slowMs?: number } = {},
  ) => {
    follower = standInFollower();
    hub = new EventHub({
      follower,
      log: silentLogger(),
      window: options.window ?? 100,
      maxStreams: options.maxStreams ?? 10,
      lingerMs: 60_000,
    });
    const { streamEvents } = eventHandlers({
      hub,
      log: silentLogger(),
      heartbeatMs: 60_000,
      maxBufferBytes: options.maxBufferBytes ?? 1 << 20,
      ...(options.slowMs !== undefined ? { slowMs: options.slowMs } : {}),
      onDropped: () => {
        dropped += 1;
      },
    });
    const app = new Koa();
    app.use(errorBoundary(silentLogger()));
    app.use(streamEvents);
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  };
  const open = async (query = '', headers: Record<string, string> = {}) => {
    const client = await openEvents(`${url}${query}`, headers);
    clients.push(client);
    return client;
  };

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    hub.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    dropped = 0;
  });

  it('when an event is relayed, then each stream whose filter it passes gets it with a numbered id', async () => {
    await start();
    const all = await open();
    const byId = await open(`?id=${OTHER}`);
    const byType = await open('?type=simulate');
    follower.push(
      { kind: 'accepted', id: ID, at, type: 'hash' },
      { kind: 'progress', id: OTHER, at, type: 'simulate', attempt: 1, percent: 10, data: { a: 1 } },
    );
    await waitFor('two events', () => all.events.length === 2);
    await waitFor(
      'one event by id and by type',
      () => byId.events.length === 1 && byType.events.length === 1,
    );
    assert.deepEqual(
      all.events.map((e) => [e.event, e.id?.split('-')[1]]),
      [
        ['accepted', '1'],
        ['progress', '2'],
      ],
    );
    assert.deepEqual(JSON.parse(byId.events[0]?.data ?? ''), {
      id: OTHER,
      state: 'progress',
      at: at.toISOString(),
      type: 'simulate',
      attempt: 1,
      percent: 10,
      data: { a: 1 },
    });
    assert.equal(byType.events[0]?.id, all.events[1]?.id, 'the same event has the same id on every stream');
    assert.ok(matches({ group: 'g' }, { kind: 'completed', id: ID, at, group: 'g' }));
    assert.ok(!matches({ group: 'g' }, { kind: 'completed', id: ID, at }));
  });

  it('when the follower passes over events, then every stream is told to reset', async () => {
    await start();
    const client = await open();
    follower.gap();
    await waitFor('a reset', () => client.events.length === 1);
    assert.equal(client.events[0]?.event, 'reset');
  });

  it('when a client resumes, then only the events after its Last-Event-ID and inside the window come again', async () => {
    await start({ window: 16 });
    const first = await open();
    follower.push(
      ...Array.from({ length: 5 }, () => ({ kind: 'accepted' as const, id: ID, at, type: 'hash' })),
    );
    await waitFor('five events', () => first.events.length === 5);
    const third = first.events[2]?.id as string;
    const resumed = await open('', { 'Last-Event-ID': third });
    await waitFor('two replayed', () => resumed.events.length === 2);
    assert.deepEqual(
      resumed.events.map((e) => e.id),
      first.events.slice(3).map((e) => e.id),
    );
    // 40 more: the window (16, dropped in chunks) no longer holds event 3.
    follower.push(
      ...Array.from({ length: 40 }, () => ({ kind: 'accepted' as const, id: ID, at, type: 'hash' })),
    );
    await waitFor('45 events', () => first.events.length === 45);
    const late = await open('', { 'Last-Event-ID': third });
    await waitFor('a reset', () => late.events.length > 0);
    assert.equal(late.events[0]?.event, 'reset');
    const future = await open('', { 'Last-Event-ID': `${third.split('-')[0]}-9999` });
    await waitFor('a reset for an id not given yet', () => future.events.length > 0);
    assert.equal(future.events[0]?.event, 'reset');
  });

  it('when MAX_EVENT_STREAMS are open, then one more is 503 TOO_MANY_STREAMS with Retry-After', async () => {
    await start({ maxStreams: 2 });
    await open();
    await open();
    const refused = await open();
    assert.equal(refused.status, 503);
    await refused.ended;
    assert.equal(JSON.parse(refused.body()).error.code, 'TOO_MANY_STREAMS');
    assert.equal(refused.headers['retry-after'], '5');
  });

  /** `n` progress events of about 1 KB each. */
  const push = (n: number) =>
    follower.push(
      ...Array.from({ length: n }, () => ({
        kind: 'progress' as const,
        id: ID,
        at,
        type: 'hash',
        attempt: 1,
        percent: 1,
        data: { blob: 'x'.repeat(900) },
      })),
    );

  it('when a client stops reading, then its stream is closed once its unsent bytes stay past the bound; a client that reads, even through bursts, is not', async () => {
    await start({ maxBufferBytes: 64 * 1024, slowMs: 300 });
    const slow = await open();
    const fast = await open();
    slow.pause();
    // About 300 KB at once: past the bound on both streams for a moment.
    push(300);
    let sent = 300;
    await waitFor(
      'the slow stream to be dropped (once the kernel buffers are full too)',
      () => {
        push(40);
        sent += 40;
        return dropped === 1;
      },
      15_000,
      20,
    );
    assert.equal(hub.size, 1, 'only the slow stream is gone');
    await waitFor('the fast client to have every event', () => fast.events.length === sent, 10_000);
    assert.equal(dropped, 1);
  });

  it('when a client stops reading and events keep coming, then its stream is closed at many times the bound before the grace ends', async () => {
    await start({ maxBufferBytes: 16 * 1024, slowMs: 60_000 });
    const slow = await open();
    slow.pause();
    await waitFor(
      'the slow stream to be dropped',
      () => {
        push(100);
        return dropped === 1;
      },
      15_000,
      20,
    );
    assert.equal(hub.size, 0);
  });

  it('when the hub closes (the manager stops), then every stream ends', async () => {
    await start();
    const client = await open();
    hub.close();
    await client.ended;
    assert.equal(hub.size, 0);
  });
});
