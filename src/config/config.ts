/**
 * The one place configuration is read and validated. Takes the environment (already merged
 * with `.env` and CLI flags by the entrypoint) and returns a frozen object with units in
 * the names, or throws ConfigError listing every bad value at once.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { LOG_LEVELS, type LogLevel } from '../log.js';

import { SETTINGS } from './settings.js';

export { SETTINGS, type Setting } from './settings.js';

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
  /** A POST to a path outside the API's own names is a job, as in the original system. */
  acceptAnyPath: boolean;
  /** Accept payloads with `__proto__` or `constructor.prototype` keys (else 400 FORBIDDEN_KEY). */
  allowPrototypeKeys: boolean;
  jobTtrSeconds: number;
  jobMaxAttempts: number;
  reconcileIntervalSeconds: number;
  reconcileGraceSeconds: number;
  /** 0: record, then put; else put on hold this long, record with the location, kick. */
  acceptHoldSeconds: number;
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
    /** Connections open at once; one more is closed as soon as it is accepted. */
    maxConnections: number;
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

  /** Set to anything, even blanks (which raw() trims away): "set" and "unset" can differ in meaning. */
  given(name: string): boolean {
    const value = this.env[name];
    return value !== undefined && value !== '';
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

/**
 * Parses `name:key` entries; never echoes a key in a problem. A setting that is set must yield
 * a key: an empty secret file or `API_KEYS=","` would otherwise turn auth off without a word.
 * Only unset (or empty) API_KEYS and API_KEYS_FILE mean "no auth".
 */
function readApiKeys(r: Reader, readFile: (path: string) => string): Array<{ name: string; key: string }> {
  const sources: Array<{ setting: string; entries: string[] }> = [];
  if (r.given('API_KEYS')) {
    sources.push({ setting: 'API_KEYS', entries: r.raw('API_KEYS').split(/[,\n]/) });
  }
  const file = r.raw('API_KEYS_FILE');
  if (r.given('API_KEYS_FILE') && file === '') {
    r.problems.push('API_KEYS_FILE is set but names no file; unset it for no auth');
  } else if (file !== '') {
    try {
      sources.push({ setting: `API_KEYS_FILE ${JSON.stringify(file)}`, entries: readFile(file).split('\n') });
    } catch {
      r.problems.push(`API_KEYS_FILE ${JSON.stringify(file)} cannot be read`);
    }
  }
  const keys: Array<{ name: string; key: string }> = [];
  let index = 0;
  for (const { setting, entries } of sources) {
    let found = 0;
    for (const raw of entries) {
      index += 1;
      const entry = raw.trim();
      if (entry === '' || entry.startsWith('#')) continue;
      found += 1;
      const colon = entry.indexOf(':');
      const name = colon > 0 ? entry.slice(0, colon).trim() : '';
      const key = colon > 0 ? entry.slice(colon + 1).trim() : '';
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || !/^[\x21-\x7e]{16,256}$/.test(key)) {
        r.problems.push(
          `API key entry ${index} must be name:key, the name 1-64 of A-Z a-z 0-9 _ . -, the key 16-256 visible ASCII characters`,
        );
        continue;
      }
      if (keys.some((k) => k.name === name)) r.problems.push(`API key name ${name} appears twice`);
      keys.push({ name, key });
    }
    if (found === 0) {
      r.problems.push(
        `${setting} holds no name:key entry (only blanks, commas or # comments); unset it for no auth`,
      );
    }
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
    maxConnections: r.int('MANAGER_MAX_CONNECTIONS', 1, 1_000_000),
  };
  return finish(r, {
    ...common,
    listenHost: r.host('MANAGER_LISTEN_HOST'),
    listenPort: r.int('MANAGER_LISTEN_PORT', 0, 65535),
    maxJsonDepth: r.int('MAX_JSON_DEPTH', 1, 1000),
    acceptAnyPath: r.bool('ACCEPT_ANY_PATH'),
    allowPrototypeKeys: r.bool('ALLOW_PROTOTYPE_KEYS'),
    jobTtrSeconds: r.int('JOB_TTR_SECONDS', 1, 86_400),
    jobMaxAttempts: r.int('JOB_MAX_ATTEMPTS', 1, 1000),
    reconcileIntervalSeconds: r.int('RECONCILE_INTERVAL_SECONDS', 0, 86_400),
    reconcileGraceSeconds: r.int('RECONCILE_GRACE_SECONDS', 1, 86_400),
    acceptHoldSeconds: readAcceptHold(r, common.mongo.timeoutMs),
    idempotencyTtlSeconds: r.int('IDEMPOTENCY_TTL_SECONDS', 1, 31_536_000),
    retentionCompletedSeconds: r.int('RETENTION_COMPLETED_SECONDS', 0, 315_360_000),
    jobTypes: r.types('JOB_TYPES'),
    batchMaxItems: r.int('BATCH_MAX_ITEMS', 1, 1_000_000),
    batchMaxBytes: r.int('BATCH_MAX_BYTES', 1024, 1_073_741_824),
    security,
    workerGoneAfterMs: r.int('WORKER_GONE_AFTER_MS', 100, 86_400_000),
  });
}

/**
 * The accept hold must outlast any insert the manager waits for (its timeout plus the
 * insert's retries, twice over), or workers would meet held jobs whose record is on its way.
 */
function readAcceptHold(r: Reader, mongoTimeoutMs: number): number {
  const seconds = r.int('ACCEPT_HOLD_SECONDS', 0, 86_400);
  const least = Math.ceil((2 * (mongoTimeoutMs + Math.min(2000, mongoTimeoutMs))) / 1000);
  if (seconds > 0 && seconds < least) {
    r.problems.push(
      `ACCEPT_HOLD_SECONDS must be 0 or at least ${least} (twice MONGO_TIMEOUT_MS plus the insert retries); got ${seconds}`,
    );
  }
  return seconds;
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
