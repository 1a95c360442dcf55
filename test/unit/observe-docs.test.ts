/** The docs name every route of the route table (docs/api.md) and every metric the code exports (docs/operations.md). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { createManagerMetrics, type ManagerMetricsDeps } from '../../src/manager/http/prometheus.js';
import { ROUTES } from '../../src/manager/http/routes/routes.js';
import { createWorkerMetrics } from '../../src/worker/observe/prometheus.js';
import { projectRoot } from '../support/harness.js';

const api = readFileSync(join(projectRoot, 'docs', 'api.md'), 'utf8');
const operations = readFileSync(join(projectRoot, 'docs', 'operations.md'), 'utf8');

describe('the docs and the observing code agree', () => {
  it('when the route table changes, then docs/api.md lists every route', () => {
    for (const route of ROUTES) {
      const shown = `\`${route.method} ${route.path.replace(/\{(\w+)\}/g, '<$1>')}\``;
      assert.ok(api.includes(shown), `docs/api.md lists ${shown}`);
    }
  });

  it('when metrics are added, then docs/operations.md names every one the manager and workers export', () => {
    // Nothing is read from the backends until a scrape: the registries only need the metric names.
    const manager = createManagerMetrics({
      log: silentLogger(),
      tubePrefix: '',
      workerGoneAfterMs: 1000,
      processMetrics: false,
    } as unknown as ManagerMetricsDeps);
    const worker = createWorkerMetrics({ processMetrics: false, types: ['hash'] });
    const names = [...manager.registry.getMetricsAsArray(), ...worker.registry.getMetricsAsArray()].map(
      (metric) => metric.name,
    );
    assert.ok(names.length >= 10, names.join(', '));
    for (const name of names) assert.ok(operations.includes(`\`${name}`), `docs/operations.md names ${name}`);
  });
});
