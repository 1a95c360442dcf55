/**
 * The dashboard's logic that needs no browser (ui/src): the chart's series, the event-stream
 * reader, the page addresses, and numbers and times written for people.
 */
import assert from 'node:assert/strict';
import { formatDuration, formatRelative } from '../../../ui/src/format.js';
import { pageHref, parseHash } from '../../../ui/src/routes.js';
import { EventStreamParser } from '../../../ui/src/sse-parser.js';
import { chartData, FIVE_MINUTES, HOUR_SECONDS } from '../../../ui/src/throughput.js';

const series = (startSecond: number, completed: number[], accepted = completed.map(() => 0)) => ({
  start: new Date(startSecond * 1000).toISOString(),
  accepted,
  completed,
  failed: completed.map(() => 0),
});

describe('the dashboard without a browser (ui/src)', () => {
  it("when a /stats answer comes, then the chart draws its seconds or its hour's minutes, as the window asks", () => {
    const answer = {
      throughput: series(1000, [1, 2, 0], [3, 0, 1]),
      lastHour: series(960, [5, 7], [9, 4]),
    };
    const [xs, accepted, completed, failed] = chartData(answer, FIVE_MINUTES);
    assert.deepEqual(xs, [1000, 1001, 1002]);
    assert.deepEqual(accepted, [3, 0, 1]);
    assert.deepEqual(completed, [1, 2, 0]);
    assert.deepEqual(failed, [0, 0, 0]);
    const hour = chartData(answer, HOUR_SECONDS);
    assert.deepEqual(hour[0], [960, 1020], 'one point a minute');
    assert.deepEqual(hour[1], [9, 4]);
    assert.deepEqual(hour[2], [5, 7]);
    assert.deepEqual(chartData(undefined, HOUR_SECONDS), [[], [], [], []], 'no answer yet: nothing drawn');
  });

  it('when a stream arrives in pieces, then each event comes out whole, comments and retry lines skipped', () => {
    const parser = new EventStreamParser();
    const text =
      'retry: 2000\n: connected\n\nid: a-1\nevent: accepted\ndata: {"id":"x",\ndata: "n":1}\n\n: heartbeat\n\ndata: plain\r\n\r\n';
    const events = [];
    for (let i = 0; i < text.length; i += 7) events.push(...parser.push(text.slice(i, i + 7)));
    assert.deepEqual(events, [
      { event: 'accepted', data: '{"id":"x",\n"n":1}', id: 'a-1' },
      { event: 'message', data: 'plain' },
    ]);
  });

  it('when the address changes, then the page, its id and parameters are read from the hash', () => {
    const id = '01a22e54-41d1-74f5-9538-6fa7291a9750';
    assert.equal(parseHash('').page, 'overview');
    assert.equal(parseHash('#/').page, 'overview');
    assert.deepEqual(
      [parseHash('#/jobs?state=failed').page, parseHash('#/jobs?state=failed').params.get('state')],
      ['jobs', 'failed'],
    );
    assert.deepEqual([parseHash(`#/jobs/${id}`).page, parseHash(`#/jobs/${id}`).id], ['job', id]);
    assert.deepEqual([parseHash(`#/groups/${id}/`).page, parseHash(`#/groups/${id}`).id], ['group', id]);
    for (const hash of ['#/failed', '#/workers', '#/groups', '#/schedules'])
      assert.equal(parseHash(hash).page, hash.slice(2));
    for (const hash of ['#/nope', '#/jobs/a/b', '#/workers/x', '#/schedules/x', '#main'])
      assert.equal(parseHash(hash).page, 'unknown');
    assert.equal(
      pageHref('/jobs', { state: 'failed', type: undefined, cursor: '3.1' }),
      '#/jobs?state=failed&cursor=3.1',
    );
    assert.equal(pageHref('/failed'), '#/failed');
  });

  it('when times and durations are shown, then they read as people say them', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    // The browser's language decides the words; this process's is checked when it is English.
    const english = new Intl.RelativeTimeFormat().resolvedOptions().locale.startsWith('en');
    const relative = (iso: string, words: RegExp) =>
      english ? assert.match(formatRelative(iso, now), words) : assert.ok(formatRelative(iso, now) !== iso);
    relative('2026-12-01T11:57:00Z', /^3 minutes ago$/);
    relative('2026-12-01T12:00:10Z', /^in 10 seconds$/);
    relative('2026-11-29T12:00:00Z', /^2 days ago$/);
    assert.equal(formatRelative('not a time', now), 'not a time');
    assert.equal(formatDuration(850), '850 ms');
    assert.match(formatDuration(1250), /^1[.,]3 s$/);
    assert.equal(formatDuration(184_000), '3 min 4 s');
    assert.equal(formatDuration(7_500_000), '2 h 5 min');
  });
});
