/** What each role's configuration holds: the objects config.ts builds, frozen, units in the names. */
import type { LogLevel } from '../log.js';
import type { ApiKey } from './api-keys.js';

export interface CommonConfig {
  /**
   * The first (or only) server's host and port, every server (BEANSTALK_SERVERS, else that one),
   * and the connect and command timeout.
   */
  beanstalk: {
    host: string;
    port: number;
    timeoutMs: number;
    servers: ReadonlyArray<{ host: string; port: number }>;
  };
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
  /** With several beanstalkd servers: how long one may fail before its jobs are put on the others. */
  beanstalkServerGoneSeconds: number;
  /** 0: record, then put; else put on hold this long, record with the location, kick. */
  acceptHoldSeconds: number;
  idempotencyTtlSeconds: number;
  retentionCompletedSeconds: number;
  /** How often the scheduler looks for due ticks; 0: this manager enqueues none. */
  schedulerIntervalMs: number;
  jobTypes: readonly string[];
  batchMaxItems: number;
  batchMaxBytes: number;
  maxWaiters: number;
  events: {
    maxStreams: number;
    window: number;
    resumeMs: number;
    heartbeatMs: number;
    maxBufferBytes: number;
  };
  security: {
    apiKeys: readonly ApiKey[];
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
  /** What a POST's `callback_url` is checked against (the secret itself stays with the workers). */
  webhooks: {
    /** WEBHOOK_SECRET is set: callback URLs are accepted. */
    enabled: boolean;
    allowPrivate: boolean;
    /** WEBHOOK_URLS: type → URL, for jobs posted without one. */
    urls: Readonly<Record<string, string>>;
  };
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
  /** The event loop blocked this long kills the worker process (stall-watchdog.ts); 0: never. */
  stallExitMs: number;
  /** How long a slot waits for a limited type's tokens before releasing its job. */
  limitWaitMs: number;
  handlersModule: string;
  types: readonly string[];
  simulate: { meanMs: number; failRate: number };
  exitWhenDrained: boolean;
  drainIdleMs: number;
  heartbeatMs: number;
  /** 0: no metrics server. */
  metricsPort: number;
  webhooks: {
    /** WEBHOOK_SECRET; '' (none): this worker delivers no webhooks. */
    secret: string;
    allowPrivate: boolean;
    /** 0: this worker delivers no webhooks. */
    concurrency: number;
    connectTimeoutMs: number;
    responseTimeoutMs: number;
    maxAttempts: number;
    retryBaseMs: number;
    retryCapMs: number;
  };
}
