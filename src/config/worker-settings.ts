/** The worker's settings: slots, reserving, handlers, batch mode, retries, shutdown, metrics. */
import type { Setting } from './settings.js';

export const WORKER_SETTINGS: readonly Setting[] = [
  {
    env: 'WORKER_CONCURRENCY',
    flag: 'concurrency',
    default: '64',
    description:
      'jobs a worker process runs at once (one beanstalkd connection each); more in flight means larger outcome batches',
    roles: ['worker'],
  },
  {
    env: 'WORKER_RESERVE_TIMEOUT_SECONDS',
    flag: 'reserve-timeout',
    default: '1',
    description: 'reserve-with-timeout seconds (how fast shutdown and dead connections are noticed)',
    roles: ['worker'],
  },
  {
    env: 'WORKER_WORK_DELAY_MS',
    flag: 'work-delay-ms',
    default: '0',
    description:
      'simulated work per job in ms: N, or MIN-MAX for a random pick (the original slept 1000-5000)',
    roles: ['worker'],
  },
  {
    env: 'WORKER_STORE_RETRY_MS',
    flag: 'store-retry-ms',
    default: '10000',
    description: 'how long a worker retries storing an outcome before releasing the job for later',
    roles: ['worker'],
  },
  {
    env: 'WORKER_NAME',
    flag: 'name',
    default: '',
    description: 'name of this worker in results and logs (default host:pid)',
    roles: ['worker'],
  },
  {
    env: 'WORKER_HANDLERS',
    flag: 'handlers',
    default: '',
    description: 'a module whose exports map job types to handlers, added to the built-ins',
    roles: ['worker'],
  },
  {
    env: 'WORKER_TYPES',
    flag: 'types',
    default: '',
    description: 'job types this worker serves, comma separated; empty: every handler it has',
    roles: ['worker'],
  },
  {
    env: 'WORKER_SIMULATE_MEAN_MS',
    flag: 'simulate-mean-ms',
    default: '100',
    description: 'simulate jobs: mean work time unless the job sets mean_ms',
    roles: ['worker'],
  },
  {
    env: 'WORKER_SIMULATE_FAIL_RATE',
    flag: 'simulate-fail-rate',
    default: '0',
    description: 'simulate jobs: share of runs that fail (0 to 1) unless the job sets fail_rate',
    roles: ['worker'],
  },
  {
    env: 'WORKER_EXIT_WHEN_DRAINED',
    flag: 'exit-when-drained',
    default: 'false',
    description: "exit 0 once the worker's types have been empty for WORKER_DRAIN_IDLE_MS (batch mode)",
    roles: ['worker'],
  },
  {
    env: 'WORKER_DRAIN_IDLE_MS',
    flag: 'drain-idle-ms',
    default: '3000',
    description: 'batch mode: how long the queue must stay empty before the worker exits',
    roles: ['worker'],
  },
  {
    env: 'WORKER_RETRY_BASE_MS',
    flag: 'retry-base-ms',
    default: '1000',
    description:
      'first backoff after a failed attempt; doubles each attempt (beanstalkd rounds up to seconds)',
    roles: ['worker'],
  },
  {
    env: 'WORKER_RETRY_CAP_MS',
    flag: 'retry-cap-ms',
    default: '60000',
    description: 'longest backoff between attempts',
    roles: ['worker'],
  },
  {
    env: 'WORKER_JOB_TIMEOUT_MS',
    flag: 'job-timeout-ms',
    default: '300000',
    description:
      'hard limit on one run of a handler; past it the run is aborted and counts as failed (0: none)',
    roles: ['worker'],
  },
  {
    env: 'WORKER_SHUTDOWN_GRACE_MS',
    flag: 'shutdown-grace-ms',
    default: '8000',
    description: 'on SIGTERM, how long jobs in hand may finish before they are released',
    roles: ['worker'],
  },
  {
    env: 'WORKER_HEARTBEAT_MS',
    flag: 'heartbeat-ms',
    default: '5000',
    description: 'how often a worker writes its heartbeat and counts to MongoDB (workers collection), in ms',
    roles: ['worker'],
  },
  {
    env: 'WORKER_METRICS_PORT',
    flag: 'metrics-port',
    default: '0',
    description: "port of the worker's own Prometheus /metrics (0: off)",
    roles: ['worker'],
  },
];
