/**
 * The manager's Prometheus metrics (GET /metrics), one registry per app:
 * - counted here: jobs accepted by type, HTTP request durations by route pattern and status;
 * - read at scrape time: jobs in beanstalkd by type and state (`stats-tube`), and what the
 *   workers' heartbeats report — jobs completed and failed and a processing-duration
 *   histogram, per type and worker process, as of each one's last heartbeat. Those are
 *   counters per worker process (they restart at 0 with it, which Prometheus' rate()
 *   understands); `sum by (type)` gives the system's figures. A worker drops out once it has
 *   not been heard from for WORKER_GONE_AFTER_MS.
 * Reading heartbeats costs one query on the small `workers` collection per scrape.
 */
import type { Context, Next } from 'koa';
import { Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { DEFAULT_JOB_TYPE } from '../../handlers/index.js';
import type { Logger } from '../../log.js';
import { collectProcessMetrics } from '../../process-metrics.js';
import type { QueueSet } from '../../queue/index.js';
import { DURATION_BUCKETS_SECONDS, type Store, type WorkerDocument } from '../../store/index.js';
import { readQueueDepth, type TypeDepth } from '../stats/queue-depth.js';
import { isLive, recentWorkers } from '../stats/workers.js';

export interface ManagerMetricsDeps {
  queue: QueueSet;
  store: Store;
  log: Logger;
  tubePrefix: string;
  workerGoneAfterMs: number;
  /** Node's own process metrics (CPU, memory, event loop); off in tests that build many apps. */
  processMetrics: boolean;
  /** How many `GET ?wait=` requests wait now. */
  waiting?: () => number;
  /** How many `GET /events` streams are open now. */
  streams?: () => number;
}

export interface ManagerMetrics {
  readonly registry: Registry;
  accepted(type: string): void;
  /** An event stream was closed because its client did not keep up. */
  streamDropped(): void;
  /** Times every request; the route label is the pattern a route handler left in ctx.state.route. */
  httpMiddleware(): (ctx: Context, next: Next) => Promise<void>;
}

interface Snapshot {
  depth: TypeDepth[] | null;
  workers: WorkerDocument[] | null;
  now: number;
}

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function createManagerMetrics(deps: ManagerMetricsDeps): ManagerMetrics {
  const registry = new Registry();
  if (deps.processMetrics) collectProcessMetrics(registry);
  const accepted = new Counter({
    name: 'dw_jobs_accepted_total',
    help: "Jobs accepted (recorded and queued: answered 202, or a schedule tick's), by type",
    labelNames: ['type'],
    registers: [registry],
  });
  accepted.inc({ type: DEFAULT_JOB_TYPE }, 0);
  const http = new Histogram({
    name: 'dw_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const { waiting, streams } = deps;
  if (streams) {
    new Gauge({
      name: 'dw_event_streams',
      help: 'GET /events streams open on this manager',
      registers: [registry],
      collect() {
        this.set(streams());
      },
    });
  }
  const dropped = new Counter({
    name: 'dw_event_streams_dropped_total',
    help: 'GET /events streams closed because their client left too many bytes unread',
    registers: [registry],
  });
  if (waiting) {
    new Gauge({
      name: 'dw_waiting_requests',
      help: 'GET /jobs/<id>?wait= requests waiting for their job to end on this manager',
      registers: [registry],
      collect() {
        this.set(waiting());
      },
    });
  }

  // Every scrape-time metric of one scrape shares one read of each backend.
  let reading: Promise<Snapshot> | undefined;
  const snapshot = (): Promise<Snapshot> => {
    reading ??= (async () => {
      const now = Date.now();
      const [depth, workers] = await Promise.all([
        readQueueDepth(deps.queue, deps.tubePrefix).catch(() => null),
        recentWorkers(deps.store, deps.workerGoneAfterMs, now).catch(() => null),
      ]);
      return { depth, workers, now };
    })().finally(() => {
      reading = undefined;
    });
    return reading;
  };

  const fromSnapshot = (
    name: string,
    help: string,
    type: 'gauge' | 'counter' | 'histogram',
    values: (s: Snapshot) => Value[],
  ) => {
    const get = async () => ({ name, help, type, aggregator: 'sum', values: values(await snapshot()) });
    // prom-client's Registry takes any object with name/help/type/get(); its types only name its own classes.
    registry.registerMetric({ name, help, type, aggregator: 'sum', get, reset() {} } as unknown as Metric);
  };

  fromSnapshot(
    'dw_backend_up',
    'Whether the last scrape could read the backend (1) or not (0)',
    'gauge',
    (s) => [
      { labels: { backend: 'beanstalkd' }, value: s.depth ? 1 : 0 },
      { labels: { backend: 'mongodb' }, value: s.workers ? 1 : 0 },
    ],
  );
  fromSnapshot(
    'dw_queue_jobs',
    'Jobs in beanstalkd now, by type and state (queued, delayed, running, buried), from stats-tube',
    'gauge',
    (s) =>
      (s.depth ?? []).flatMap((d) => [
        { labels: { type: d.type, state: 'queued' }, value: d.ready },
        { labels: { type: d.type, state: 'delayed' }, value: d.delayed },
        { labels: { type: d.type, state: 'running' }, value: d.reserved },
        { labels: { type: d.type, state: 'buried' }, value: d.buried },
      ]),
  );
  fromSnapshot(
    'dw_workers_live',
    'Workers running and heard from within WORKER_GONE_AFTER_MS',
    'gauge',
    (s) => [
      {
        labels: {},
        value: (s.workers ?? []).filter((doc) => isLive(doc, deps.workerGoneAfterMs, s.now)).length,
      },
    ],
  );
  const perWorker = (pick: 'completed' | 'failed') => (s: Snapshot) =>
    (s.workers ?? []).flatMap((doc) =>
      doc.byType.map((counts) => ({ labels: { type: counts.type, worker: doc._id }, value: counts[pick] })),
    );
  fromSnapshot(
    'dw_jobs_completed_total',
    "Jobs completed, by type and worker process, from the workers' heartbeats",
    'counter',
    perWorker('completed'),
  );
  fromSnapshot(
    'dw_jobs_failed_total',
    "Jobs ended as failed, by type and worker process, from the workers' heartbeats",
    'counter',
    perWorker('failed'),
  );
  fromSnapshot(
    'dw_job_duration_seconds',
    "Processing time of finished jobs, by type and worker process, from the workers' heartbeats",
    'histogram',
    (s) =>
      (s.workers ?? []).flatMap((doc) =>
        doc.byType.flatMap((counts) => {
          const labels = { type: counts.type, worker: doc._id };
          const values: Value[] = [];
          let running = 0;
          DURATION_BUCKETS_SECONDS.forEach((bound, i) => {
            running += counts.durationBuckets[i] ?? 0;
            values.push({
              labels: { ...labels, le: bound },
              value: running,
              metricName: 'dw_job_duration_seconds_bucket',
            });
          });
          const total = counts.completed + counts.failed;
          values.push(
            { labels: { ...labels, le: '+Inf' }, value: total, metricName: 'dw_job_duration_seconds_bucket' },
            { labels, value: counts.durationMsTotal / 1000, metricName: 'dw_job_duration_seconds_sum' },
            { labels, value: total, metricName: 'dw_job_duration_seconds_count' },
          );
          return values;
        }),
      ),
  );

  return {
    registry,
    accepted(type) {
      accepted.inc({ type });
    },
    streamDropped() {
      dropped.inc();
    },
    httpMiddleware() {
      return async (ctx, next) => {
        const started = process.hrtime.bigint();
        const record = (status: number) => {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const route = (ctx.state as { route?: string }).route ?? 'unmatched';
          const method = METHODS.has(ctx.method) ? ctx.method : 'OTHER';
          http.observe({ method, route, status: String(status) }, seconds);
          deps.log.debug({ method, route, status, ms: Math.round(seconds * 10_000) / 10 }, 'http request');
        };
        try {
          await next();
        } finally {
          // A long-poll handed over by its handler (handlers/wait-for-job.ts) is timed until it is answered.
          const answered = (ctx.state as { answered?: Promise<number> }).answered;
          if (ctx.respond === false && answered) void answered.then(record, () => record(500));
          else record(ctx.status);
        }
      };
    },
  };
}
