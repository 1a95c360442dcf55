/** The worker's settings: slots, reserving, handlers, batch mode, retries, shutdown, metrics. */
import { JOB_TYPE } from '../handlers/index.js';
import { bool, declareSettings, group, int, list, number, range, text } from './setting-kinds.js';

export const WORKER_SETTINGS = declareSettings(['worker'], {
  ...group('worker', {
    WORKER_CONCURRENCY: int({
      flag: 'concurrency',
      default: 64,
      min: 1,
      max: 256,
      description:
        'jobs a worker process runs at once (one beanstalkd connection each); more in flight means larger outcome batches',
    }),
    WORKER_RESERVE_TIMEOUT_SECONDS: int({
      flag: 'reserve-timeout',
      default: 1,
      min: 0,
      max: 60,
      description:
        'reserve-with-timeout seconds: how often a slot waiting for jobs asks beanstalkd again (two a worker per tubes and server; its other idle slots wait in the worker), so how soon it notices a dead connection or a limited type it may watch again (stopping does not wait for it)',
    }),
    WORKER_NAME: text({
      flag: 'name',
      default: '',
      pattern: /^([\w.:@-]{1,100})?$/,
      rule: 'may hold letters, digits and . : @ _ -, at most 100',
      description: 'name of this worker in results and logs (default `host:pid`)',
    }),
    WORKER_HEARTBEAT_MS: int({
      flag: 'heartbeat-ms',
      default: 5000,
      min: 100,
      max: 600_000,
      description:
        'how often a worker writes its heartbeat and counts to MongoDB (`workers` collection), in ms',
    }),
    WORKER_METRICS_PORT: int({
      flag: 'metrics-port',
      default: 0,
      min: 0,
      max: 65_535,
      description: "port of the worker's own Prometheus `/metrics` (0: off)",
    }),
  }),
  ...group('worker: job types and handlers', {
    WORKER_HANDLERS: text({
      flag: 'handlers',
      default: '',
      description:
        'a module whose exports map job types to handlers, added to the built-ins (for example `./examples/handlers.mjs`)',
    }),
    WORKER_TYPES: list({
      flag: 'types',
      default: [],
      item: JOB_TYPE,
      itemRule: 'is not a job type',
      description: 'job types this worker serves, comma separated; empty: every handler it has',
    }),
    WORKER_WORK_DELAY_MS: range({
      flag: 'work-delay-ms',
      default: { min: 0, max: 0 },
      max: 9_999_999,
      description:
        'simulated work per job in ms: N, or MIN-MAX for a random pick (the original slept 1000-5000)',
    }),
    WORKER_SIMULATE_MEAN_MS: int({
      flag: 'simulate-mean-ms',
      default: 100,
      min: 0,
      max: 3_600_000,
      description: '`simulate` jobs: mean work time unless the job sets `mean_ms`',
    }),
    WORKER_SIMULATE_FAIL_RATE: number({
      flag: 'simulate-fail-rate',
      default: 0,
      min: 0,
      max: 1,
      description: '`simulate` jobs: share of runs that fail unless the job sets `fail_rate`',
    }),
  }),
  ...group('worker: failures and shutdown', {
    WORKER_STORE_RETRY_MS: int({
      flag: 'store-retry-ms',
      default: 10_000,
      min: 0,
      max: 600_000,
      description: 'how long a worker retries storing an outcome before releasing the job for later',
    }),
    WORKER_RETRY_BASE_MS: int({
      flag: 'retry-base-ms',
      default: 1000,
      min: 0,
      max: 3_600_000,
      description:
        'first backoff after a failed attempt; doubles each attempt (beanstalkd rounds up to seconds)',
    }),
    WORKER_RETRY_CAP_MS: int({
      flag: 'retry-cap-ms',
      default: 60_000,
      min: 0,
      max: 86_400_000,
      description: 'longest backoff between attempts',
    }),
    WORKER_JOB_TIMEOUT_MS: int({
      flag: 'job-timeout-ms',
      default: 300_000,
      min: 0,
      max: 86_400_000,
      description:
        'hard limit on one run of a handler; past it the run is aborted and counts as failed (0: none)',
    }),
    WORKER_SHUTDOWN_GRACE_MS: int({
      flag: 'shutdown-grace-ms',
      default: 8000,
      min: 0,
      max: 600_000,
      description: 'on SIGTERM, how long jobs in hand may finish before they are released',
    }),
    WORKER_STALL_EXIT_MS: int({
      flag: 'stall-exit-ms',
      default: 120_000,
      min: 0,
      max: 86_400_000,
      description:
        "a worker whose event loop has not turned for this long (a handler stuck in synchronous code) kills itself so that beanstalkd hands its jobs to other workers; each such death counts as one of those jobs' attempts (0: never)",
    }),
    WORKER_LIMIT_WAIT_MS: int({
      flag: 'limit-wait-ms',
      default: 150,
      min: 0,
      max: 5000,
      description:
        "how long a slot holding a job of a rate- or concurrency-limited type waits for its type's tokens before releasing the job for a second (docs/limits-design.md)",
    }),
  }),
  ...group('worker: batch mode', {
    WORKER_EXIT_WHEN_DRAINED: bool({
      flag: 'exit-when-drained',
      default: false,
      description: "exit 0 once the worker's types have been empty for `WORKER_DRAIN_IDLE_MS`",
    }),
    WORKER_DRAIN_IDLE_MS: int({
      flag: 'drain-idle-ms',
      default: 3000,
      min: 0,
      max: 86_400_000,
      description: 'how long the queue must stay empty before the worker exits',
    }),
  }),
});
