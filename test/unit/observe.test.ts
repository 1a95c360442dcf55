/** The observing parts that need no server: counts, buckets, schemas, the route table, settings. */
import assert from 'node:assert/strict';
import { loadManagerConfig, loadWorkerConfig } from '../../src/config/config.js';
import { newJobId, parseJobId } from '../../src/jobs/job-id.js';
import { typeOfTube } from '../../src/jobs/queue-copy.js';
import { percentile, spread } from '../../src/load/percentiles.js';
import { formatSummary, type LoadSummary, succeeded } from '../../src/load/summary.js';
import { koaPath, ROUTES } from '../../src/manager/http/routes/routes.js';
import { JOB_ID_PATTERN, MAX_LOOKUP_IDS } from '../../src/manager/http/schemas/schemas.js';
import { parseLookup } from '../../src/manager/jobs/read/outcomes.js';
import { DURATION_BUCKETS_SECONDS } from '../../src/store/index.js';
import {
  durationBucketIndex,
  RECENT_WINDOW_SECONDS,
  WorkerStats,
} from '../../src/worker/observe/worker-stats.js';

const base = { MONGO_URL: 'mongodb://127.0.0.1:27017/x' };

describe('observing (unit)', () => {
  describe('WorkerStats', () => {
    it('when outcomes are recorded, then totals, averages, per-type counts and duration buckets add up', () => {
      const stats = new WorkerStats();
      const at = new Date('2026-01-01T00:00:10.500Z');
      stats.record({ type: 'hash', outcome: 'completed', durationMs: 4, finishedAt: at });
      stats.record({ type: 'hash', outcome: 'failed', durationMs: 16, finishedAt: at });
      stats.record({ type: 'other', outcome: 'completed', durationMs: 400_000, finishedAt: at });
      stats.record({ type: 'hash', outcome: 'cancelled', durationMs: 1, finishedAt: at });
      assert.deepEqual(stats.totals(), { completed: 2, failed: 1, avgDurationMs: 133340 });
      const hash = stats.byType().find((t) => t.type === 'hash');
      assert.equal(hash?.completed, 1);
      assert.equal(hash?.failed, 1);
      assert.equal(hash?.durationMsTotal, 20);
      assert.equal(hash?.durationBuckets.length, DURATION_BUCKETS_SECONDS.length + 1);
      assert.equal(hash?.durationBuckets[0], 1, '4 ms is in the first bucket (≤ 5 ms)');
      assert.equal(hash?.durationBuckets[2], 1, '16 ms is in the ≤ 25 ms bucket');
      const other = stats.byType().find((t) => t.type === 'other');
      assert.equal(other?.durationBuckets.at(-1), 1, 'past the last bound lands in the overflow bucket');
      assert.deepEqual(stats.recent(at.getTime()), [{ t: 1767225610, completed: 2, failed: 1 }]);
      assert.deepEqual(stats.minutes(at.getTime()), [{ t: 1767225600, completed: 2, failed: 1 }]);
    });

    it('when buckets grow older than the window, then they are dropped', () => {
      const stats = new WorkerStats();
      const old = new Date(Date.UTC(2026, 0, 1, 0, 0, 0));
      stats.record({ type: 'hash', outcome: 'completed', durationMs: 1, finishedAt: old });
      assert.equal(stats.recent(old.getTime() + (RECENT_WINDOW_SECONDS - 1) * 1000).length, 1);
      assert.equal(stats.recent(old.getTime() + RECENT_WINDOW_SECONDS * 1000).length, 0);
      assert.equal(stats.totals().completed, 1, 'totals are kept');
    });

    it('when a duration sits on a bound, then it belongs to that bucket (le)', () => {
      assert.equal(durationBucketIndex(5), 0);
      assert.equal(durationBucketIndex(5.1), 1);
      assert.equal(durationBucketIndex(0), 0);
      assert.equal(durationBucketIndex(10_000_000), DURATION_BUCKETS_SECONDS.length);
    });
  });

  it("when tubes are listed, then only this system's tubes map to types", () => {
    assert.equal(typeOfTube('p.hash', 'p.'), 'hash');
    assert.equal(typeOfTube('q.hash', 'p.'), null);
    assert.equal(typeOfTube('p.', 'p.'), null);
    assert.equal(typeOfTube('default', ''), null);
    assert.equal(typeOfTube('hash', ''), 'hash');
  });

  it('when an id is checked by the schema pattern and by parseJobId, then both agree', () => {
    const pattern = new RegExp(JOB_ID_PATTERN);
    const id = newJobId();
    const cases = [
      id,
      id.toUpperCase(),
      `${id}x`,
      id.slice(1),
      '00000000-0000-4000-8000-000000000000',
      id.replace(/^(.{14})7/, '$14'),
      id.replace(/^(.{19})./, '$1c'),
      '',
      'abc',
      `${id.slice(0, 35)}g`,
    ];
    for (const candidate of cases) {
      assert.equal(pattern.test(candidate), parseJobId(candidate) !== null, candidate);
    }
  });

  it('when a lookup body is checked, then it holds 1 to MAX_LOOKUP_IDS job ids and nothing else', () => {
    const id = newJobId();
    assert.deepEqual(parseLookup({ ids: [id, id.toUpperCase()] }), [id], 'canonical and without repeats');
    const code = (value: unknown) => {
      try {
        parseLookup(value);
        return 'accepted';
      } catch (error: unknown) {
        return (error as { code?: string }).code;
      }
    };
    assert.equal(code([id]), 'INVALID_REQUEST');
    assert.equal(code({ ids: [] }), 'INVALID_REQUEST');
    assert.equal(code({ ids: id }), 'INVALID_REQUEST');
    assert.equal(code({ ids: [id], more: 1 }), 'INVALID_REQUEST');
    assert.equal(code({ ids: new Array(MAX_LOOKUP_IDS + 1).fill(id) }), 'INVALID_REQUEST');
    assert.equal(code({ ids: new Array(MAX_LOOKUP_IDS).fill(id) }), 'accepted');
    assert.equal(code({ ids: [id, 'abc'] }), 'INVALID_ID');
    assert.equal(code({ ids: [42] }), 'INVALID_ID');
  });

  it('when the route table is read, then operation ids are unique and fixed paths come before /{id}', () => {
    const ids = ROUTES.map((r) => r.operationId);
    assert.equal(new Set(ids).size, ids.length);
    const catchAll = ROUTES.findIndex((r) => r.path === '/{id}');
    assert.equal(catchAll, ROUTES.length - 1, '/{id} is tried last');
    assert.equal(koaPath('/jobs/{id}'), '/jobs/:id');
  });

  it('when the new settings are given, then they are read with their units, and bad values are all reported', () => {
    const worker = loadWorkerConfig({
      ...base,
      WORKER_HEARTBEAT_MS: '250',
      WORKER_METRICS_PORT: '9100',
      LOG_PRETTY: 'true',
    });
    assert.equal(worker.heartbeatMs, 250);
    assert.equal(worker.metricsPort, 9100);
    assert.equal(worker.logPretty, true);
    const defaults = loadWorkerConfig(base);
    assert.equal(defaults.heartbeatMs, 5000);
    assert.equal(defaults.metricsPort, 0, 'no metrics server unless asked');
    assert.equal(defaults.logPretty, false);
    assert.equal(loadManagerConfig(base).workerGoneAfterMs, 15_000);
    assert.throws(
      () =>
        loadWorkerConfig({
          ...base,
          WORKER_HEARTBEAT_MS: '5',
          WORKER_METRICS_PORT: 'x',
          LOG_PRETTY: 'maybe',
        }),
      (error: unknown) => {
        const text = String(error);
        return ['WORKER_HEARTBEAT_MS', 'WORKER_METRICS_PORT', 'LOG_PRETTY'].every((n) => text.includes(n));
      },
    );
  });

  describe('load summary', () => {
    it('when percentiles are taken, then they are nearest-rank over every sample', () => {
      const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
      assert.deepEqual(spread(samples), { count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
      assert.equal(percentile([7], 99), 7);
      assert.ok(Number.isNaN(percentile([], 50)));
    });

    it('when a run is summarised, then the counts and both latency lines are printed, and success needs every job completed', () => {
      const summary: LoadSummary = {
        url: 'http://m',
        mode: 'single',
        count: 3,
        concurrency: 2,
        rate: 0,
        accepted: 3,
        rejected: {},
        completed: 3,
        failed: 0,
        cancelled: 0,
        unfinished: 0,
        postSeconds: 1,
        totalSeconds: 2,
        postLatencyMs: spread([1, 2, 3]),
        endToEndMs: spread([4, 5, 6]),
      };
      const text = formatSummary(summary);
      assert.match(text, /^accepted: +3$/m);
      assert.match(text, /^completed: +3$/m);
      assert.match(text, /^POST latency \(ms\): +p50 2\.0 +p90 3\.0 +p99 3\.0/m);
      assert.match(text, /^end-to-end latency \(ms\): +p50 5\.0/m);
      assert.ok(succeeded(summary));
      assert.ok(!succeeded({ ...summary, completed: 2, unfinished: 1 }));
      assert.ok(!succeeded({ ...summary, accepted: 2, rejected: { 503: 1 } }));
      assert.match(
        formatSummary({ ...summary, accepted: 2, rejected: { 503: 1 } }),
        /rejected: +1 \(1 × HTTP 503\)/,
      );
    });
  });
});
