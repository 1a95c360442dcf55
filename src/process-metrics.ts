/** Node's own metrics (prom-client's defaults) on a role's /metrics. */
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * How often the event loop's delay is sampled (ms). prom-client's default, 10, is a timer that
 * wakes the process 100 times a second: most of an idle manager's wake-ups, and about half of
 * them at 20 jobs a second. A delay of a blocked loop still shows at 100.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Registers the process, heap, GC and event-loop metrics into `registry`. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}
