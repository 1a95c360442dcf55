/**
 * Everything a worker does to be observed, started and stopped as one: counts of the
 * outcomes it stores (WorkerStats), its heartbeats, and its own /metrics server when
 * WORKER_METRICS_PORT is set. The worker loop sees `store`, which counts as it saves.
 */
import type { WorkerConfig } from '../../config/config.js';
import { Tally } from '../../jobs/tally.js';
import type { Logger } from '../../log.js';
import type { Heartbeats, Progress, TallyCommits } from '../../store/index.js';
import type { RunJobStore } from '../run-job.js';
import { type Heartbeat, instanceId, startHeartbeat } from './heartbeat.js';
import { createJobEvents, type JobEvents } from './job-events.js';
import {
  createWorkerMetrics,
  type MetricsServer,
  startMetricsServer,
  type WorkerMetrics,
} from './prometheus.js';
import { tallyOutcomes, WorkerStats } from './worker-stats.js';

export interface WorkerReporting {
  /** The worker's store, counting each outcome it newly stores. */
  readonly store: RunJobStore;
  /** Resolves once the job's stored outcome is counted in a committed tally (then it may be deleted). */
  counted(jobId: string): Promise<void>;
  /**
   * A slot waits for nothing but its deletes: commit the tally now, or, with `spareSlot` (another
   * slot can take the next job meanwhile), soon (jobs/commit-pace.ts, SPARE_SLOT_COMMIT_GAP_MS).
   */
  commitSoon(spareSlot?: boolean): void;
  /** Starts and progress, for the event stream (through the tally's notices). */
  readonly events: JobEvents;
  readonly stats: WorkerStats;
  /** This process's /metrics (the webhook deliveries count there too). */
  readonly metrics: WorkerMetrics;
  readonly heartbeat: Heartbeat;
  /** Last heartbeat (marked stopped), then the metrics server closes. Idempotent. */
  stop(): Promise<void>;
}

/**
 * How long one outcome write may take before the job is released for later: the insert
 * retries, plus a last try bounded by the driver's timeouts on each side.
 */
export function outcomeDeadlineMs(config: Readonly<WorkerConfig>): number {
  return config.storeRetryMs + 2 * config.mongo.timeoutMs + 1000;
}

export async function startReporting(
  config: Readonly<WorkerConfig>,
  options: {
    store: RunJobStore & TallyCommits & Heartbeats & Pick<Progress, 'saveProgress'>;
    types: readonly string[];
    log: Logger;
  },
): Promise<WorkerReporting> {
  const served = config.metricsPort > 0;
  const metrics = createWorkerMetrics({ processMetrics: served, types: options.types });
  const server: MetricsServer | undefined = served
    ? await startMetricsServer(metrics.registry, config.metricsPort, '0.0.0.0', options.log)
    : undefined;
  const stats = new WorkerStats();
  const id = instanceId(config.workerName);
  const tally = new Tally({ id, store: options.store, log: options.log, role: 'worker' });
  const { store, counted } = tallyOutcomes(
    options.store,
    tally,
    (doc) => {
      stats.record(doc);
      metrics.record(doc);
    },
    outcomeDeadlineMs(config),
  );
  const heartbeat = startHeartbeat({
    id,
    store: options.store,
    log: options.log,
    stats,
    intervalMs: config.heartbeatMs,
    name: config.workerName,
    types: options.types,
    concurrency: config.concurrency,
  });
  let stopped: Promise<void> | undefined;
  return {
    store,
    counted,
    commitSoon: (spareSlot) => tally.commitSoon(spareSlot),
    events: createJobEvents({ tally, store: options.store, log: options.log }),
    stats,
    metrics,
    heartbeat,
    stop() {
      stopped ??= (async () => {
        await tally.stop();
        await heartbeat.stop();
        await server?.close();
      })();
      return stopped;
    },
  };
}
