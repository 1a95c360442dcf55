/**
 * The one place configuration is read and validated. Takes the environment (already merged
 * with `.env` and CLI flags by the entrypoint) and returns a frozen object with units in
 * the names, or throws ConfigError listing every bad value at once.
 */
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
  workerGoneAfterMs: number;
}

export interface WorkerConfig extends CommonConfig {
  concurrency: number;
  reserveTimeoutSeconds: number;
  workDelayMs: { min: number; max: number };
  storeRetryMs: number;
  workerName: string;
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

  bool(name: string): boolean {
    const text = this.raw(name).toLowerCase();
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
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

export function loadManagerConfig(env: Env): Readonly<ManagerConfig> {
  const r = new Reader(env);
  const common = readCommon(r);
  return finish(r, {
    ...common,
    listenHost: r.host('MANAGER_LISTEN_HOST'),
    listenPort: r.int('MANAGER_LISTEN_PORT', 0, 65535),
    maxJsonDepth: r.int('MAX_JSON_DEPTH', 1, 1000),
    jobTtrSeconds: r.int('JOB_TTR_SECONDS', 1, 86_400),
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
    heartbeatMs: r.int('WORKER_HEARTBEAT_MS', 100, 600_000),
    metricsPort: r.int('WORKER_METRICS_PORT', 0, 65535),
  });
}
