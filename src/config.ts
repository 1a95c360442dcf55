/**
 * The one place configuration is read and validated. Takes the environment (already merged
 * with `.env` and CLI flags by the entrypoint) and returns a frozen object with units in
 * the names, or throws ConfigError listing every bad value at once.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { LOG_LEVELS, type LogLevel } from './log.js';

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
    default: '4',
    description: 'jobs a worker process runs at once (one beanstalkd connection each)',
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

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface CommonConfig {
  beanstalk: { host: string; port: number; timeoutMs: number };
  mongo: { url: string; dbName: string; timeoutMs: number };
  tubePrefix: string;
  logLevel: LogLevel;
  logPretty: boolean;
}

export interface ManagerConfig extends CommonConfig {
  listenHost: string;
  listenPort: number;
  maxJsonDepth: number;
  jobTtrSeconds: number;
  jobMaxAttempts: number;
  reconcileIntervalSeconds: number;
  reconcileGraceSeconds: number;
  idempotencyTtlSeconds: number;
  retentionCompletedSeconds: number;
  jobTypes: readonly string[];
  batchMaxItems: number;
  batchMaxBytes: number;
  security: {
    apiKeys: ReadonlyArray<{ name: string; key: string }>;
    authReads: boolean;
    authOps: boolean;
    rateLimitPerMinute: number;
    corsOrigins: readonly string[];
    bodyTimeoutMs: number;
    trustProxy: boolean;
  };
  workerGoneAfterMs: number;
}

export interface WorkerConfig extends CommonConfig {
  concurrency: number;
  reserveTimeoutSeconds: number;
  workDelayMs: { min: number; max: number };
  storeRetryMs: number;
  workerName: string;
  retryBaseMs: number;
  retryCapMs: number;
  jobTimeoutMs: number;
  shutdownGraceMs: number;
  handlersModule: string;
  types: readonly string[];
  simulate: { meanMs: number; failRate: number };
  exitWhenDrained: boolean;
  drainIdleMs: number;
  heartbeatMs: number;
  /** 0: no metrics server. */
  metricsPort: number;
}

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string {
    const setting = SETTINGS.find((s) => s.env === name);
    const value = this.env[name];
    return value === undefined || value === '' ? (setting?.default ?? '') : value.trim();
  }

  int(name: string, min: number, max: number): number {
    const text = this.raw(name);
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
      return min;
    }
    return value;
  }

  /** A comma-separated list of job types (lower-case names). */
  types(name: string): string[] {
    const list = this.raw(name)
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    for (const type of list) {
      if (!/^[a-z][a-z0-9_-]{0,62}$/.test(type))
        this.problems.push(`${name}: ${JSON.stringify(type)} is not a job type`);
    }
    return list;
  }

  fraction(name: string): number {
    const text = this.raw(name);
    const value = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || value < 0 || value > 1) {
      this.problems.push(`${name} must be a number from 0 to 1 (got ${JSON.stringify(text)})`);
      return 0;
    }
    return value;
  }

  bool(name: string): boolean {
    const text = this.raw(name).toLowerCase();
    if (['true', '1', 'yes'].includes(text)) return true;
    if (['false', '0', 'no'].includes(text)) return false;
    this.problems.push(`${name} must be true or false (got ${JSON.stringify(text)})`);
    return false;
  }

  host(name: string): string {
    const text = this.raw(name);
    if (!/^[A-Za-z0-9.\-_:[\]]{1,253}$/.test(text)) {
      this.problems.push(`${name} must be a host name or address (got ${JSON.stringify(text)})`);
    }
    return text;
  }
}

const TUBE_PREFIX = /^([A-Za-z0-9+/;.$_()][A-Za-z0-9\-+/;.$_()]{0,150})?$/;

function readCommon(r: Reader): CommonConfig {
  const url = r.raw('MONGO_URL');
  let dbName = r.raw('MONGO_DB');
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'mongodb:' && parsed.protocol !== 'mongodb+srv:') throw new Error('scheme');
    if (dbName === '')
      dbName = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'distributed_workers';
  } catch {
    // Never echo the URL: it may hold a password.
    r.problems.push('MONGO_URL must be a mongodb:// or mongodb+srv:// URL');
  }
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(dbName || 'x')) {
    r.problems.push(`MONGO_DB must be 1-63 letters, digits, _ or - (got ${JSON.stringify(dbName)})`);
  }
  const tubePrefix = r.raw('QUEUE_TUBE_PREFIX');
  if (!TUBE_PREFIX.test(tubePrefix)) {
    r.problems.push(
      `QUEUE_TUBE_PREFIX may hold letters, digits and - + / ; . $ _ ( ), not start with -, at most 150 (got ${JSON.stringify(tubePrefix)})`,
    );
  }
  const logLevel = r.raw('LOG_LEVEL');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    r.problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(logLevel)})`);
  }
  return {
    beanstalk: {
      host: r.host('BEANSTALK_HOST'),
      port: r.int('BEANSTALK_PORT', 1, 65535),
      timeoutMs: r.int('BEANSTALK_TIMEOUT_MS', 100, 60_000),
    },
    mongo: { url, dbName, timeoutMs: r.int('MONGO_TIMEOUT_MS', 100, 60_000) },
    tubePrefix,
    logLevel: logLevel as LogLevel,
    logPretty: r.bool('LOG_PRETTY'),
  };
}

function finish<T extends object>(r: Reader, config: T): Readonly<T> {
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}

/** Parses `name:key` entries; never echoes a key in a problem. */
function readApiKeys(r: Reader, readFile: (path: string) => string): Array<{ name: string; key: string }> {
  const entries: string[] = r.raw('API_KEYS').split(/[,\n]/);
  const file = r.raw('API_KEYS_FILE');
  if (file !== '') {
    try {
      entries.push(...readFile(file).split('\n'));
    } catch {
      r.problems.push(`API_KEYS_FILE ${JSON.stringify(file)} cannot be read`);
    }
  }
  const keys: Array<{ name: string; key: string }> = [];
  for (const [index, raw] of entries.entries()) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon).trim() : '';
    const key = colon > 0 ? entry.slice(colon + 1).trim() : '';
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || !/^[\x21-\x7e]{16,256}$/.test(key)) {
      r.problems.push(
        `API key entry ${index + 1} must be name:key, the name 1-64 of A-Z a-z 0-9 _ . -, the key 16-256 visible ASCII characters`,
      );
      continue;
    }
    if (keys.some((k) => k.name === name)) r.problems.push(`API key name ${name} appears twice`);
    keys.push({ name, key });
  }
  return keys;
}

export function loadManagerConfig(
  env: Env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Readonly<ManagerConfig> {
  const r = new Reader(env);
  const common = readCommon(r);
  const cors = r.raw('CORS_ORIGINS');
  const corsOrigins =
    cors === ''
      ? []
      : cors
          .split(',')
          .map((o) => o.trim())
          .filter((o) => o !== '');
  for (const origin of corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) {
      r.problems.push(
        `CORS_ORIGINS entries must be * or scheme://host[:port] (got ${JSON.stringify(origin)})`,
      );
    }
  }
  const security = {
    apiKeys: readApiKeys(r, readFile),
    authReads: r.bool('AUTH_READS'),
    authOps: r.bool('AUTH_OPS'),
    rateLimitPerMinute: r.int('RATE_LIMIT_PER_MINUTE', 0, 10_000_000),
    corsOrigins,
    bodyTimeoutMs: r.int('BODY_TIMEOUT_MS', 100, 600_000),
    trustProxy: r.bool('TRUST_PROXY'),
  };
  return finish(r, {
    ...common,
    listenHost: r.host('MANAGER_LISTEN_HOST'),
    listenPort: r.int('MANAGER_LISTEN_PORT', 0, 65535),
    maxJsonDepth: r.int('MAX_JSON_DEPTH', 1, 1000),
    jobTtrSeconds: r.int('JOB_TTR_SECONDS', 1, 86_400),
    jobMaxAttempts: r.int('JOB_MAX_ATTEMPTS', 1, 1000),
    reconcileIntervalSeconds: r.int('RECONCILE_INTERVAL_SECONDS', 0, 86_400),
    reconcileGraceSeconds: r.int('RECONCILE_GRACE_SECONDS', 1, 86_400),
    idempotencyTtlSeconds: r.int('IDEMPOTENCY_TTL_SECONDS', 1, 31_536_000),
    retentionCompletedSeconds: r.int('RETENTION_COMPLETED_SECONDS', 0, 315_360_000),
    jobTypes: r.types('JOB_TYPES'),
    batchMaxItems: r.int('BATCH_MAX_ITEMS', 1, 1_000_000),
    batchMaxBytes: r.int('BATCH_MAX_BYTES', 1024, 1_073_741_824),
    security,
    workerGoneAfterMs: r.int('WORKER_GONE_AFTER_MS', 100, 86_400_000),
  });
}

export function loadWorkerConfig(env: Env): Readonly<WorkerConfig> {
  const r = new Reader(env);
  const common = readCommon(r);
  const delayText = r.raw('WORKER_WORK_DELAY_MS');
  const match = /^(\d{1,7})(?:-(\d{1,7}))?$/.exec(delayText);
  let workDelayMs = { min: 0, max: 0 };
  if (!match) {
    r.problems.push(`WORKER_WORK_DELAY_MS must be N or MIN-MAX in ms (got ${JSON.stringify(delayText)})`);
  } else {
    const min = Number(match[1]);
    const max = match[2] === undefined ? min : Number(match[2]);
    if (max < min) r.problems.push(`WORKER_WORK_DELAY_MS: ${max} is below ${min}`);
    workDelayMs = { min, max };
  }
  const name = r.raw('WORKER_NAME') || `${hostname()}:${process.pid}`;
  if (!/^[\w.:@-]{1,100}$/.test(name)) {
    r.problems.push(
      `WORKER_NAME may hold letters, digits and . : @ _ -, at most 100 (got ${JSON.stringify(name)})`,
    );
  }
  return finish(r, {
    ...common,
    concurrency: r.int('WORKER_CONCURRENCY', 1, 256),
    reserveTimeoutSeconds: r.int('WORKER_RESERVE_TIMEOUT_SECONDS', 0, 60),
    workDelayMs,
    storeRetryMs: r.int('WORKER_STORE_RETRY_MS', 0, 600_000),
    workerName: name,
    retryBaseMs: r.int('WORKER_RETRY_BASE_MS', 0, 3_600_000),
    retryCapMs: r.int('WORKER_RETRY_CAP_MS', 0, 86_400_000),
    jobTimeoutMs: r.int('WORKER_JOB_TIMEOUT_MS', 0, 86_400_000),
    shutdownGraceMs: r.int('WORKER_SHUTDOWN_GRACE_MS', 0, 600_000),
    handlersModule: r.raw('WORKER_HANDLERS'),
    types: r.types('WORKER_TYPES'),
    simulate: {
      meanMs: r.int('WORKER_SIMULATE_MEAN_MS', 0, 3_600_000),
      failRate: r.fraction('WORKER_SIMULATE_FAIL_RATE'),
    },
    exitWhenDrained: r.bool('WORKER_EXIT_WHEN_DRAINED'),
    drainIdleMs: r.int('WORKER_DRAIN_IDLE_MS', 0, 86_400_000),
    heartbeatMs: r.int('WORKER_HEARTBEAT_MS', 100, 600_000),
    metricsPort: r.int('WORKER_METRICS_PORT', 0, 65535),
  });
}
