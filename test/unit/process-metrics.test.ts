import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Registry } from 'prom-client';
import { collectProcessMetrics, EVENT_LOOP_SAMPLE_MS } from '../../src/process-metrics.js';

describe("a role's process metrics (process-metrics)", () => {
  // prom-client asks Node's perf_hooks (the module object it required) for its event-loop timer.
  const perfHooks = createRequire(import.meta.url)('node:perf_hooks') as typeof import('node:perf_hooks');

  it('when registered, then the event loop is sampled every 100 ms, not 100 times a second, and its lag is still exported', async () => {
    const original = perfHooks.monitorEventLoopDelay;
    const resolutions: Array<number | undefined> = [];
    perfHooks.monitorEventLoopDelay = (options) => {
      resolutions.push(options?.resolution);
      return original(options);
    };
    const registry = new Registry();
    try {
      collectProcessMetrics(registry);
    } finally {
      perfHooks.monitorEventLoopDelay = original;
    }
    assert.deepEqual(resolutions, [EVENT_LOOP_SAMPLE_MS]);
    assert.equal(EVENT_LOOP_SAMPLE_MS, 100);
    const text = await registry.metrics();
    assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
    assert.match(text, /^process_cpu_user_seconds_total /m);
  });
});
