/**
 * A worker's own Prometheus metrics, served on WORKER_METRICS_PORT when it is set: jobs
 * completed and failed by type and a processing-duration histogram, and webhook delivery
 * attempts by result with the time from a job's end to its webhook, and the jobs released
 * because their type's rate or concurrency limit was reached, counted in this process.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from '../../log.js';
import { collectProcessMetrics } from '../../process-metrics.js';
import { DURATION_BUCKETS_SECONDS, Outcome } from '../../store/index.js';
import type { DeliveryMetrics } from '../../webhooks/delivery-loop.js';
import type { StoredOutcome } from './worker-stats.js';

export interface WorkerMetrics extends DeliveryMetrics {
  readonly registry: Registry;
  record(doc: StoredOutcome): void;
  /** A job of `type` released because its limit was reached (limit-gate.ts). */
  limitWait(type: string, reason: 'rate' | 'concurrency'): void;
}

/** The series a stored outcome of one type and outcome counts in. */
interface EndedSeries {
  count: { inc(): void };
  duration: { observe(seconds: number): void };
}

/** From a job's end to its webhook's 2xx, in seconds: a first try within a second, retries up to a day. */
const WEBHOOK_LATENCY_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86_400];

export function createWorkerMetrics(options: {
  processMetrics: boolean;
  types: readonly string[];
}): WorkerMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectProcessMetrics(registry);
  const completed = new Counter({
    name: 'dw_worker_jobs_completed_total',
    help: 'Jobs this worker process completed (outcome stored), by type',
    labelNames: ['type'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'dw_worker_jobs_failed_total',
    help: 'Jobs this worker process ended as failed (outcome stored), by type',
    labelNames: ['type'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'dw_worker_job_duration_seconds',
    help: 'Processing time of the jobs this worker process finished (handler and simulated work), by type and outcome',
    labelNames: ['type', 'outcome'],
    buckets: [...DURATION_BUCKETS_SECONDS],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'dw_worker_webhook_attempts_total',
    help: 'Webhook delivery attempts this worker process made, by result: delivered (2xx), failed (tried again later), gave_up (attempts spent, buried)',
    labelNames: ['result'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'dw_worker_webhook_latency_seconds',
    help: "From a job's end (its stored finishedAt) to its webhook's 2xx, retries included, for the webhooks this worker process delivered",
    buckets: WEBHOOK_LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });
  const limitWaits = new Counter({
    name: 'dw_limit_waits_total',
    help: "Jobs this worker process released without running them because their type's limit was reached (a rate or run token was not to be had), by type and reason (rate, concurrency)",
    labelNames: ['type', 'reason'],
    registers: [registry],
  });
  // Series exist from the start (at 0), so a first scrape already shows every type.
  for (const type of options.types) {
    completed.inc({ type }, 0);
    failed.inc({ type }, 0);
  }
  for (const result of ['delivered', 'failed', 'gave_up']) deliveries.inc({ result }, 0);
  // A stored outcome's series, made once per type and outcome: every stored job is recorded,
  // and labels passed per call were three objects and a closure a job for the collector.
  const seriesByType = new Map<string, Map<string, EndedSeries>>();
  const seriesOf = (type: string, outcome: typeof Outcome.COMPLETED | typeof Outcome.FAILED): EndedSeries => {
    let byOutcome = seriesByType.get(type);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      seriesByType.set(type, byOutcome);
    }
    let series = byOutcome.get(outcome);
    if (series === undefined) {
      series = {
        count: (outcome === Outcome.COMPLETED ? completed : failed).labels({ type }),
        duration: duration.labels({ type, outcome }),
      };
      byOutcome.set(outcome, series);
    }
    return series;
  };
  return {
    registry,
    attempt(result, endToDeliveryMs) {
      deliveries.inc({ result });
      if (endToDeliveryMs !== undefined) latency.observe(Math.max(0, endToDeliveryMs) / 1000);
    },
    limitWait(type, reason) {
      limitWaits.inc({ type, reason });
    },
    record(doc) {
      if (doc.outcome !== Outcome.COMPLETED && doc.outcome !== Outcome.FAILED) return;
      const series = seriesOf(doc.type, doc.outcome);
      series.count.inc();
      series.duration.observe(doc.durationMs / 1000);
    },
  };
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` from `registry` on `port` (all interfaces, as the manager listens). */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  host: string,
  log: Logger,
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'only GET /metrics is served here' } }));
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(text);
      },
      (error: unknown) => {
        log.warn({ err: error }, 'could not render metrics');
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }));
      },
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ port: bound }, 'worker metrics served at /metrics');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
