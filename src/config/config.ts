/**
 * The one place configuration is read and validated. Takes the environment (already merged
 * with `.env` and CLI flags by the entrypoint) and returns a frozen object with units in
 * the names, or throws ConfigError listing every bad value at once. What each setting is
 * (kind, bounds, default) is declared in the *-settings.ts files; this module builds the
 * roles' objects from them.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { readApiKeys } from './api-keys.js';
import type { CommonConfig, ManagerConfig, WorkerConfig } from './config-shapes.js';
import { MANAGER_SETTINGS } from './manager-settings.js';
import { ConfigError, type Env, SettingsReader } from './reader.js';
import { SHARED_SETTINGS } from './shared-settings.js';
import { SHARED_WEBHOOK_SETTINGS, WORKER_WEBHOOK_SETTINGS } from './webhook-settings.js';
import { readWebhookSecret, readWebhookUrls } from './webhooks.js';
import { WORKER_SETTINGS } from './worker-settings.js';

export type { CommonConfig, ManagerConfig, WorkerConfig } from './config-shapes.js';
export { ConfigError } from './reader.js';
export { MANAGER_SETTINGS, SETTINGS, type Setting, SHARED_SETTINGS, WORKER_SETTINGS } from './settings.js';

/** The database when neither MONGO_DB nor MONGO_URL names one. */
const DEFAULT_DB_NAME = 'distributed_workers';

/** What a beanstalkd client of either role connects with: one timeout bounds connecting and each command. */
export function queueConnection(config: Pick<CommonConfig, 'beanstalk'>): {
  host: string;
  port: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
} {
  const { host, port, timeoutMs } = config.beanstalk;
  return { host, port, connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs };
}

function readCommon(r: SettingsReader): CommonConfig {
  const s = SHARED_SETTINGS;
  const url = r.read(s.MONGO_URL);
  let dbName = r.read(s.MONGO_DB);
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'mongodb:' && parsed.protocol !== 'mongodb+srv:') throw new Error('scheme');
    if (dbName === '') {
      const named = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
      dbName = r.check(s.MONGO_DB, named || DEFAULT_DB_NAME);
    }
  } catch {
    // Never echo the URL: it may hold a password.
    r.problems.push('MONGO_URL must be a mongodb:// or mongodb+srv:// URL');
  }
  const one = { host: r.read(s.BEANSTALK_HOST), port: r.read(s.BEANSTALK_PORT) };
  const listed = r.read(s.BEANSTALK_SERVERS).map((item) => {
    const colon = item.lastIndexOf(':');
    const host = item.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const port = Number(item.slice(colon + 1));
    if (port < 1 || port > 65_535)
      r.problems.push(`BEANSTALK_SERVERS: ${JSON.stringify(item)}: port out of range`);
    return { host, port };
  });
  const keys = listed.map(({ host, port }) => `${host}:${port}`);
  if (new Set(keys).size !== keys.length) r.problems.push('BEANSTALK_SERVERS: a server is listed twice');
  const servers = listed.length > 0 ? listed : [one];
  return {
    beanstalk: {
      ...(servers[0] ?? one),
      timeoutMs: r.read(s.BEANSTALK_TIMEOUT_MS),
      servers,
    },
    mongo: { url, dbName, timeoutMs: r.read(s.MONGO_TIMEOUT_MS) },
    tubePrefix: r.read(s.QUEUE_TUBE_PREFIX),
    logLevel: r.read(s.LOG_LEVEL),
    logPretty: r.read(s.LOG_PRETTY),
  };
}

function finish<T extends object>(r: SettingsReader, config: T): Readonly<T> {
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}

export function loadManagerConfig(
  env: Env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Readonly<ManagerConfig> {
  const r = new SettingsReader(env);
  const m = MANAGER_SETTINGS;
  const common = readCommon(r);
  const security = {
    apiKeys: readApiKeys(r, readFile),
    authReads: r.read(m.AUTH_READS),
    authOps: r.read(m.AUTH_OPS),
    rateLimitPerMinute: r.read(m.RATE_LIMIT_PER_MINUTE),
    corsOrigins: r.read(m.CORS_ORIGINS),
    bodyTimeoutMs: r.read(m.BODY_TIMEOUT_MS),
    trustProxy: r.read(m.TRUST_PROXY),
    maxConnections: r.read(m.MANAGER_MAX_CONNECTIONS),
  };
  return finish(r, {
    ...common,
    listenHost: r.read(m.MANAGER_LISTEN_HOST),
    listenPort: r.read(m.MANAGER_LISTEN_PORT),
    maxJsonDepth: r.read(m.MAX_JSON_DEPTH),
    acceptAnyPath: r.read(m.ACCEPT_ANY_PATH),
    allowPrototypeKeys: r.read(m.ALLOW_PROTOTYPE_KEYS),
    jobTtrSeconds: r.read(m.JOB_TTR_SECONDS),
    jobMaxAttempts: r.read(m.JOB_MAX_ATTEMPTS),
    reconcileIntervalSeconds: r.read(m.RECONCILE_INTERVAL_SECONDS),
    reconcileGraceSeconds: r.read(m.RECONCILE_GRACE_SECONDS),
    beanstalkServerGoneSeconds: r.read(m.BEANSTALK_SERVER_GONE_SECONDS),
    acceptHoldSeconds: readAcceptHold(r, common.mongo.timeoutMs),
    idempotencyTtlSeconds: r.read(m.IDEMPOTENCY_TTL_SECONDS),
    retentionCompletedSeconds: r.read(m.RETENTION_COMPLETED_SECONDS),
    schedulerIntervalMs: r.read(m.SCHEDULER_INTERVAL_MS),
    jobTypes: r.read(m.JOB_TYPES),
    batchMaxItems: r.read(m.BATCH_MAX_ITEMS),
    batchMaxBytes: r.read(m.BATCH_MAX_BYTES),
    maxWaiters: r.read(m.MAX_WAITERS),
    events: {
      maxStreams: r.read(m.MAX_EVENT_STREAMS),
      window: r.read(m.EVENT_WINDOW),
      resumeMs: r.read(m.EVENT_RESUME_MS),
      heartbeatMs: r.read(m.EVENT_HEARTBEAT_MS),
      maxBufferBytes: r.read(m.EVENT_STREAM_BUFFER_BYTES),
    },
    security,
    workerGoneAfterMs: r.read(m.WORKER_GONE_AFTER_MS),
    webhooks: readManagerWebhooks(r, readFile),
  });
}

function readManagerWebhooks(
  r: SettingsReader,
  readFile: (path: string) => string,
): ManagerConfig['webhooks'] {
  const secret = readWebhookSecret(r, readFile);
  const allowPrivate = r.read(SHARED_WEBHOOK_SETTINGS.WEBHOOK_ALLOW_PRIVATE);
  return { enabled: secret !== '', allowPrivate, urls: readWebhookUrls(r, secret, allowPrivate) };
}

/**
 * The accept hold must outlast any insert the manager waits for (its timeout plus the
 * insert's retries, twice over), or workers would meet held jobs whose record is on its way.
 */
function readAcceptHold(r: SettingsReader, mongoTimeoutMs: number): number {
  const seconds = r.read(MANAGER_SETTINGS.ACCEPT_HOLD_SECONDS);
  const least = Math.ceil((2 * (mongoTimeoutMs + Math.min(2000, mongoTimeoutMs))) / 1000);
  if (seconds > 0 && seconds < least) {
    r.problems.push(
      `ACCEPT_HOLD_SECONDS must be 0 or at least ${least} (twice MONGO_TIMEOUT_MS plus the insert retries); got ${seconds}`,
    );
  }
  return seconds;
}

export function loadWorkerConfig(
  env: Env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Readonly<WorkerConfig> {
  const r = new SettingsReader(env);
  const w = WORKER_SETTINGS;
  const common = readCommon(r);
  const workDelayMs = r.read(w.WORKER_WORK_DELAY_MS);
  const workerName = r.read(w.WORKER_NAME) || r.check(w.WORKER_NAME, `${hostname()}:${process.pid}`);
  const concurrency = r.read(w.WORKER_CONCURRENCY);
  // Slot i reserves from server i mod n: fewer slots than servers would leave a server unserved.
  if (concurrency < common.beanstalk.servers.length)
    r.problems.push(
      `WORKER_CONCURRENCY (${concurrency}) must be at least the number of BEANSTALK_SERVERS (${common.beanstalk.servers.length}): each server needs a slot`,
    );
  return finish(r, {
    ...common,
    concurrency,
    reserveTimeoutSeconds: r.read(w.WORKER_RESERVE_TIMEOUT_SECONDS),
    workDelayMs,
    storeRetryMs: r.read(w.WORKER_STORE_RETRY_MS),
    workerName,
    retryBaseMs: r.read(w.WORKER_RETRY_BASE_MS),
    retryCapMs: r.read(w.WORKER_RETRY_CAP_MS),
    jobTimeoutMs: r.read(w.WORKER_JOB_TIMEOUT_MS),
    shutdownGraceMs: r.read(w.WORKER_SHUTDOWN_GRACE_MS),
    stallExitMs: r.read(w.WORKER_STALL_EXIT_MS),
    limitWaitMs: r.read(w.WORKER_LIMIT_WAIT_MS),
    handlersModule: r.read(w.WORKER_HANDLERS),
    types: r.read(w.WORKER_TYPES),
    simulate: {
      meanMs: r.read(w.WORKER_SIMULATE_MEAN_MS),
      failRate: r.read(w.WORKER_SIMULATE_FAIL_RATE),
    },
    exitWhenDrained: r.read(w.WORKER_EXIT_WHEN_DRAINED),
    drainIdleMs: r.read(w.WORKER_DRAIN_IDLE_MS),
    heartbeatMs: r.read(w.WORKER_HEARTBEAT_MS),
    metricsPort: r.read(w.WORKER_METRICS_PORT),
    webhooks: {
      secret: readWebhookSecret(r, readFile),
      allowPrivate: r.read(SHARED_WEBHOOK_SETTINGS.WEBHOOK_ALLOW_PRIVATE),
      concurrency: r.read(WORKER_WEBHOOK_SETTINGS.WEBHOOK_CONCURRENCY),
      connectTimeoutMs: r.read(WORKER_WEBHOOK_SETTINGS.WEBHOOK_CONNECT_TIMEOUT_MS),
      responseTimeoutMs: r.read(WORKER_WEBHOOK_SETTINGS.WEBHOOK_TIMEOUT_MS),
      maxAttempts: r.read(WORKER_WEBHOOK_SETTINGS.WEBHOOK_MAX_ATTEMPTS),
      retryBaseMs: r.read(WORKER_WEBHOOK_SETTINGS.WEBHOOK_RETRY_BASE_MS),
      retryCapMs: r.read(WORKER_WEBHOOK_SETTINGS.WEBHOOK_RETRY_CAP_MS),
    },
  });
}
