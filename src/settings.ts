/** Every setting: its environment variable, flag, default and meaning (README's table and --help come from here). */

import { LOG_LEVELS } from './log.js';

export interface Setting {
  env: string;
  flag: string;
  default: string;
  description: string;
  roles: ReadonlyArray<'manager' | 'worker'>;
  /** A switch: the flag takes no value (`--pretty`); the variable is `true` or `false`. */
  boolean?: true;
}

const BOTH = ['manager', 'worker'] as const;

/** Every setting, its environment variable, flag and default: the README table is this list. */
export const SETTINGS: readonly Setting[] = [
  {
    env: 'BEANSTALK_HOST',
    flag: 'beanstalk-host',
    default: '127.0.0.1',
    description: 'beanstalkd host',
    roles: BOTH,
  },
  {
    env: 'BEANSTALK_PORT',
    flag: 'beanstalk-port',
    default: '11300',
    description: 'beanstalkd port',
    roles: BOTH,
  },
  {
    env: 'BEANSTALK_TIMEOUT_MS',
    flag: 'beanstalk-timeout-ms',
    default: '2000',
    description: 'connect and command timeout for beanstalkd, in ms',
    roles: BOTH,
  },
  {
    env: 'MONGO_URL',
    flag: 'mongo-url',
    default: 'mongodb://127.0.0.1:27017',
    description: 'MongoDB connection string (credentials are never logged)',
    roles: BOTH,
  },
  {
    env: 'MONGO_DB',
    flag: 'mongo-db',
    default: '',
    description: 'database name (default: the one in MONGO_URL, else distributed_workers)',
    roles: BOTH,
  },
  {
    env: 'MONGO_TIMEOUT_MS',
    flag: 'mongo-timeout-ms',
    default: '3000',
    description: 'bound on one MongoDB operation, in ms',
    roles: BOTH,
  },
  {
    env: 'QUEUE_TUBE_PREFIX',
    flag: 'tube-prefix',
    default: '',
    description: 'prefix of every beanstalkd tube name (a tube per job type)',
    roles: BOTH,
  },
  { env: 'LOG_LEVEL', flag: 'log-level', default: 'info', description: LOG_LEVELS.join(', '), roles: BOTH },
  {
    env: 'LOG_PRETTY',
    flag: 'pretty',
    default: 'false',
    description: 'readable, coloured log lines for a terminal (pino-pretty) instead of JSON: true or false',
    roles: BOTH,
    boolean: true,
  },
  {
    env: 'MANAGER_LISTEN_HOST',
    flag: 'host',
    default: '0.0.0.0',
    description: 'address the manager listens on',
    roles: ['manager'],
  },
  {
    env: 'MANAGER_LISTEN_PORT',
    flag: 'port',
    default: '8080',
    description: 'port the manager listens on (0: any free port)',
    roles: ['manager'],
  },
  {
    env: 'MAX_JSON_DEPTH',
    flag: 'max-json-depth',
    default: '64',
    description: 'deepest nesting accepted in a job payload',
    roles: ['manager'],
  },
  {
    env: 'JOB_TTR_SECONDS',
    flag: 'job-ttr',
    default: '60',
    description: 'seconds a worker may hold a job before beanstalkd hands it to another',
    roles: ['manager'],
  },
  {
    env: 'WORKER_GONE_AFTER_MS',
    flag: 'worker-gone-after-ms',
    default: '15000',
    description:
      'GET /workers and /metrics leave out a worker whose last heartbeat is older than this, in ms',
    roles: ['manager'],
  },
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
    env: 'JOB_MAX_ATTEMPTS',
    flag: 'max-attempts',
    default: '3',
    description: 'deliveries of a job before a failing one is buried with a failed outcome',
    roles: ['manager'],
  },
  {
    env: 'RECONCILE_INTERVAL_SECONDS',
    flag: 'reconcile-interval',
    default: '10',
    description: 'seconds between passes that re-queue jobs whose beanstalkd copy was lost (0: off)',
    roles: ['manager'],
  },
  {
    env: 'RECONCILE_GRACE_SECONDS',
    flag: 'reconcile-grace',
    default: '15',
    description: 'age a job must reach before the reconciler may judge its queue copy lost',
    roles: ['manager'],
  },
  {
    env: 'ACCEPT_HOLD_SECONDS',
    flag: 'accept-hold',
    default: '0',
    description:
      'put a job that runs now on hold this long, record it with its location, then kick it (0: record first, then put)',
    roles: ['manager'],
  },
  {
    env: 'IDEMPOTENCY_TTL_SECONDS',
    flag: 'idempotency-ttl',
    default: '86400',
    description: 'how long an Idempotency-Key keeps returning the first job',
    roles: ['manager'],
  },
  {
    env: 'RETENTION_COMPLETED_SECONDS',
    flag: 'retention-completed',
    default: '604800',
    description:
      'age after which completed and cancelled jobs are removed (0: keep forever; failed jobs are kept)',
    roles: ['manager'],
  },
  {
    env: 'JOB_TYPES',
    flag: 'job-types',
    default: '',
    description: 'job types this manager accepts, comma separated; empty: any well-formed type',
    roles: ['manager'],
  },
  {
    env: 'BATCH_MAX_ITEMS',
    flag: 'batch-max-items',
    default: '10000',
    description: 'most jobs in one POST /jobs/batch',
    roles: ['manager'],
  },
  {
    env: 'BATCH_MAX_BYTES',
    flag: 'batch-max-bytes',
    default: '33554432',
    description: 'largest POST /jobs/batch body, in bytes',
    roles: ['manager'],
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
    env: 'API_KEYS',
    flag: 'api-keys',
    default: '',
    description:
      'API keys as name:key pairs, comma or newline separated (prefer API_KEYS_FILE); none: no auth',
    roles: ['manager'],
  },
  {
    env: 'API_KEYS_FILE',
    flag: 'api-keys-file',
    default: '',
    description: 'file with one name:key per line (a Docker secret such as /run/secrets/api_keys)',
    roles: ['manager'],
  },
  {
    env: 'AUTH_READS',
    flag: 'auth-reads',
    default: 'true',
    description: 'with keys set, whether GET /jobs/... needs a key too (true or false)',
    roles: ['manager'],
  },
  {
    env: 'AUTH_OPS',
    flag: 'auth-ops',
    default: 'false',
    description: 'with keys set, whether /healthz, /readyz and /metrics need a key (true or false)',
    roles: ['manager'],
  },
  {
    env: 'RATE_LIMIT_PER_MINUTE',
    flag: 'rate-limit',
    default: '0',
    description: 'requests per minute per API key (or per client address without keys); 0: off',
    roles: ['manager'],
  },
  {
    env: 'CORS_ORIGINS',
    flag: 'cors-origins',
    default: '',
    description: 'origins browsers may call from, comma separated, or *; empty: CORS off',
    roles: ['manager'],
  },
  {
    env: 'BODY_TIMEOUT_MS',
    flag: 'body-timeout-ms',
    default: '10000',
    description: 'a request body must arrive completely within this, else 408',
    roles: ['manager'],
  },
  {
    env: 'TRUST_PROXY',
    flag: 'trust-proxy',
    default: 'false',
    description: 'take the client address from X-Forwarded-For (only behind a proxy you run)',
    roles: ['manager'],
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
