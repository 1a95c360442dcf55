/** A manager app on the real test servers, with its own tube prefix and database. */

import type Koa from 'koa';
import { MANAGER_SETTINGS } from '../../src/config/manager-settings.js';
import { newJobId } from '../../src/jobs/job-id.js';
import { Tally } from '../../src/jobs/tally.js';
import { silentLogger } from '../../src/log.js';
import { startFlowLoop } from '../../src/manager/background/flow-loop.js';
import type { AcceptCounts } from '../../src/manager/background/manager-heartbeat.js';
import { createApp, createEventHub, createFollower } from '../../src/manager/http/app.js';
import type { SecurityOptions } from '../../src/manager/http/security.js';
import type { WebhookPolicy } from '../../src/manager/jobs/accept/callback.js';
import { createQueueClient, type QueueClient, type QueueSet, queueSetOf } from '../../src/queue/index.js';
import { createStore, type Store } from '../../src/store/index.js';
import { backendEnv, backends, dropDatabase, isolation } from './harness.js';

export interface AppFixture {
  app: Koa;
  /** The one beanstalkd server's client (tests read and write it directly). */
  queue: QueueClient;
  /** The same server as the set the app and its loops take (queue/queue-set.ts). */
  queues: QueueSet;
  store: Store;
  tubePrefix: string;
  dbName: string;
  tube: string;
  close(): Promise<void>;
}

export interface AppFixtureOptions {
  label: string;
  /** Reuse another fixture's tube prefix and database. */
  share?: { tubePrefix: string; dbName: string };
  beanstalkPort?: number;
  /** More beanstalkd servers on 127.0.0.1 after the first (BEANSTALK_SERVERS): the app's set holds them all. */
  moreBeanstalkPorts?: readonly number[];
  /** The set's BEANSTALK_SERVER_GONE_SECONDS, in ms (default 60,000). */
  serverGoneAfterMs?: number;
  /** The queue client's connect and command timeouts (default 1000 and 2000 ms). */
  queueTimeoutsMs?: { connect: number; command: number };
  mongoUrl?: string;
  maxJobSize?: number;
  ttr?: number;
  maxAttempts?: number;
  idempotencyTtlMs?: number;
  acceptHoldSeconds?: number;
  security?: SecurityOptions;
  bodyTimeoutMs?: number;
  /** JOB_TYPES: the types the manager accepts (default: the built-in ones). */
  allowedTypes?: readonly string[];
  /** ACCEPT_ANY_PATH (default: the app's, on). */
  acceptAnyPath?: boolean;
  /** ALLOW_PROTOTYPE_KEYS (default: the app's, off). */
  allowPrototypeKeys?: boolean;
  /** What the app sees of the store (e.g. one that counts reads); the fixture keeps the real one. */
  wrapStore?: (store: Store) => Store;
  /** MAX_WAITERS (default: the app's). */
  maxWaiters?: number;
  /** What `callback_url` is checked against (default: webhooks off, as without WEBHOOK_SECRET). */
  webhooks?: WebhookPolicy;
  /** The dashboard's files (default: the app's, dist/ui). */
  uiDir?: string;
  /** Where the app counts the jobs it accepts (a manager heartbeat's counts). */
  acceptCounts?: AcceptCounts;
  /** GET /events settings (default: the app's). */
  events?: {
    maxStreams?: number;
    window?: number;
    resumeMs?: number;
    heartbeatMs?: number;
    maxBufferBytes?: number;
  };
}

export async function appFixture(options: AppFixtureOptions): Promise<AppFixture> {
  const servers = backends();
  const { tubePrefix, dbName } = options.share ?? isolation(options.label);
  const queue = createQueueClient({
    host: servers.beanstalk.host,
    port: options.beanstalkPort ?? servers.beanstalk.port,
    connectTimeoutMs: options.queueTimeoutsMs?.connect ?? 1000,
    commandTimeoutMs: options.queueTimeoutsMs?.command ?? 2000,
  });
  const store = createStore({
    url: options.mongoUrl ?? servers.mongoUrl,
    dbName,
    timeoutMs: 2000,
    insertRetryMs: 1000,
  });
  const maxJobSize = options.maxJobSize ?? 65_535;
  // The fixture makes and closes the follower and the hub: the app's own would keep polling the
  // closed store after the test for as long as a wait it registered lasts.
  const events = eventDeps(store, options.events ?? {}, options.maxWaiters);
  const more = (options.moreBeanstalkPorts ?? []).map((port) =>
    createQueueClient({
      host: servers.beanstalk.host,
      port,
      connectTimeoutMs: options.queueTimeoutsMs?.connect ?? 1000,
      commandTimeoutMs: options.queueTimeoutsMs?.command ?? 2000,
    }),
  );
  const queues = queueSetOf({ clients: [queue, ...more], goneAfterMs: options.serverGoneAfterMs ?? 60_000 });
  const app = createApp({
    queue: queues,
    store: options.wrapStore ? options.wrapStore(store) : store,
    log: silentLogger(),
    tubePrefix,
    maxJsonDepth: 64,
    defaultOptions: {
      priority: 1024,
      delay: 0,
      ttr: options.ttr ?? 60,
      maxAttempts: options.maxAttempts ?? 3,
    },
    maxJobSize: () => maxJobSize,
    idempotencyTtlMs: options.idempotencyTtlMs ?? 60_000,
    ...(options.acceptHoldSeconds !== undefined ? { acceptHoldSeconds: options.acceptHoldSeconds } : {}),
    ...(options.security ? { security: options.security } : {}),
    ...(options.bodyTimeoutMs ? { bodyTimeoutMs: options.bodyTimeoutMs } : {}),
    ...(options.allowedTypes ? { allowedTypes: options.allowedTypes } : {}),
    ...(options.acceptAnyPath !== undefined ? { acceptAnyPath: options.acceptAnyPath } : {}),
    ...(options.allowPrototypeKeys !== undefined ? { allowPrototypeKeys: options.allowPrototypeKeys } : {}),
    ...(options.maxWaiters !== undefined ? { maxWaiters: options.maxWaiters } : {}),
    ...(options.webhooks !== undefined ? { webhooks: options.webhooks } : {}),
    ...(options.uiDir !== undefined ? { uiDir: options.uiDir } : {}),
    ...(options.acceptCounts !== undefined ? { acceptCounts: options.acceptCounts } : {}),
    ...events,
  });
  return {
    app,
    queue,
    queues,
    store,
    tubePrefix,
    dbName,
    tube: `${tubePrefix}hash`,
    async close() {
      events.eventHub.close();
      events.follower.close();
      await Promise.all([queues.close(), store.close()]);
      if (!options.share) await dropDatabase(dbName);
    },
  };
}

/** The environment a worker needs to serve this fixture's tubes and database. */
export function workerEnvFor(f: Pick<AppFixture, 'dbName' | 'tubePrefix'>): Record<string, string> {
  return backendEnv(f);
}

/** An event hub and stream settings from the fixture's options, the app's defaults elsewhere. */
function eventDeps(store: Store, events: NonNullable<AppFixtureOptions['events']>, maxWaiters?: number) {
  const log = silentLogger();
  const follower = createFollower({ store, log, ...(maxWaiters !== undefined ? { maxWaiters } : {}) });
  return {
    follower,
    eventHub: createEventHub(follower, log, events),
    events: {
      heartbeatMs: events.heartbeatMs ?? MANAGER_SETTINGS.EVENT_HEARTBEAT_MS.default,
      maxBufferBytes: events.maxBufferBytes ?? MANAGER_SETTINGS.EVENT_STREAM_BUFFER_BYTES.default,
    },
  };
}

/**
 * A flow loop as a manager runs it, on the fixture's backends, tube prefix and database, with
 * a tally and a completion follower of its own (`follower: false`: none, so a waiting child
 * starts only at its next look); answers its stop (idempotent), which also stops the tally.
 */
export function startFixtureFlowLoop(
  f: Pick<AppFixture, 'queues' | 'store' | 'tubePrefix'>,
  options: { follower?: boolean } = {},
): () => Promise<void> {
  const servers = backends();
  const follower =
    options.follower === false ? undefined : createFollower({ store: f.store, log: silentLogger() });
  const tally = new Tally({
    id: `manager#flows-${newJobId()}`,
    store: f.store,
    log: silentLogger(),
    role: 'manager',
  });
  const loop = startFlowLoop({
    connection: {
      host: servers.beanstalk.host,
      port: servers.beanstalk.port,
      connectTimeoutMs: 1000,
      commandTimeoutMs: 2000,
    },
    queue: f.queues,
    store: f.store,
    log: silentLogger(),
    tubePrefix: f.tubePrefix,
    tally,
    reserveTimeoutSeconds: 1,
    ...(follower ? { follower } : {}),
  });
  let stopped: Promise<void> | undefined;
  return () => {
    follower?.close();
    stopped ??= loop.stop().then(() => tally.stop());
    return stopped;
  };
}
