/** Runs the manager: connects the adapters, serves HTTP, and closes everything on stop. */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { type ManagerConfig, queueConnection } from '../config/config.js';
import { Tally } from '../jobs/tally.js';
import type { Logger } from '../log.js';
import { createQueueSet } from '../queue/index.js';
import { createStore } from '../store/index.js';
import { startBackgroundPasses } from './background/background-passes.js';
import { startFlowLoop } from './background/flow-loop.js';
import { AcceptCounts, startManagerHeartbeat } from './background/manager-heartbeat.js';
import { startScheduler } from './background/scheduler.js';
import { createApp, createEventHub, createFollower } from './http/app.js';
import { createHttpServer } from './http/http-server.js';
import { RequestsInHand } from './http/requests-in-hand.js';
import { createJobService } from './jobs/accept/accept.js';
import { keepTrying, settlesWithin } from './keep-trying.js';

/** beanstalkd's default -z, used until the server has told us its own. */
export const DEFAULT_MAX_JOB_SIZE = 65_535;

/**
 * On stop, how long the connections and the requests in hand (those whose clients left too)
 * may take to finish (their backend calls have shorter deadlines of their own): within the
 * stack's 15 s stop grace.
 */
const REQUESTS_GRACE_MS = 8_000;

export interface RunningManager {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startManager(config: Readonly<ManagerConfig>, log: Logger): Promise<RunningManager> {
  const { servers, timeoutMs } = config.beanstalk;
  const queue = createQueueSet(servers, {
    connectTimeoutMs: timeoutMs,
    commandTimeoutMs: timeoutMs,
    goneAfterMs: config.beanstalkServerGoneSeconds * 1000,
  });
  const store = createStore({
    url: config.mongo.url,
    dbName: config.mongo.dbName,
    timeoutMs: config.mongo.timeoutMs,
    insertRetryMs: Math.min(2000, config.mongo.timeoutMs),
    onSilentClient: (silentMs) =>
      log.warn(
        { db: config.mongo.dbName, silentMs },
        'no MongoDB heartbeat succeeded for a while; connecting afresh',
      ),
  });
  // Each server's max-job-size as last read; a job must fit the smallest (it may go to any).
  const jobSizes = new Map<string, number>();
  let maxJobSize = DEFAULT_MAX_JOB_SIZE;
  // Each server is watched: its max-job-size, and whether it is up (the set skips, and the
  // reconciler in the end replaces, a server that stays down).
  const stopWatchingQueue = queue.servers.map((server) =>
    keepTrying(
      async () => {
        try {
          jobSizes.set(server.server, (await server.stats()).maxJobSize);
          queue.noteUp(server.server);
        } catch (error: unknown) {
          queue.noteDown(server.server);
          throw error;
        }
        maxJobSize = Math.min(...jobSizes.values());
      },
      1000,
      servers.length > 1 ? 1000 : 5000,
      (ok, error) =>
        ok
          ? log.info({ beanstalkd: server.server, maxJobSize }, 'beanstalkd reachable')
          : log.warn({ beanstalkd: server.server, err: error }, 'beanstalkd unreachable; retrying'),
    ),
  );
  const stopWatchingStore = keepTrying(
    async () => {
      await store.ping();
    },
    1000,
    5000,
    (ok, error) =>
      ok
        ? log.info({ db: config.mongo.dbName }, 'MongoDB reachable')
        : log.warn({ db: config.mongo.dbName, err: error }, 'MongoDB unreachable; retrying'),
  );
  const maintenance = startBackgroundPasses({
    queue,
    store,
    log: log.child({ task: 'maintenance' }),
    tubePrefix: config.tubePrefix,
    graceMs: config.reconcileGraceSeconds * 1000,
    holder: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    intervalMs: config.reconcileIntervalSeconds * 1000,
    retentionMs: config.retentionCompletedSeconds * 1000,
    idempotencyTtlMs: config.idempotencyTtlSeconds * 1000,
  });

  const acceptCounts = new AcceptCounts();
  const heartbeat = startManagerHeartbeat({
    store,
    counts: acceptCounts,
    log: log.child({ task: 'heartbeat' }),
  });
  // Every manager enqueues schedule ticks (background/scheduler.ts: still one job per tick).
  const scheduler = startScheduler({
    store,
    jobs: createJobService({
      queue,
      store,
      log,
      tubePrefix: config.tubePrefix,
      // A schedule's jobs carry the options resolved when it was made: these are never used.
      defaultOptions: {
        priority: 1024,
        delay: 0,
        ttr: config.jobTtrSeconds,
        maxAttempts: config.jobMaxAttempts,
      },
      maxJobSize: () => maxJobSize,
      idempotencyTtlMs: config.idempotencyTtlSeconds * 1000,
      acceptHoldSeconds: config.acceptHoldSeconds,
      webhooks: config.webhooks,
    }),
    log: log.child({ task: 'scheduler' }),
    holder: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    intervalMs: config.schedulerIntervalMs,
    idempotencyTtlMs: config.idempotencyTtlSeconds * 1000,
    retentionMs: config.retentionCompletedSeconds * 1000,
    onAccepted: (type) => acceptCounts.record(type),
  });
  // One tally for the outcomes this manager stores: cancels, and jobs ended by their parents.
  const tally = new Tally({
    id: `manager#${randomBytes(4).toString('hex')}`,
    store,
    log,
    role: 'manager',
  });
  const follower = createFollower({ store, log, maxWaiters: config.maxWaiters });
  // Every manager judges flows' waiters (background/flow-loop.ts: beanstalkd gives each to one),
  // and kicks a waiting one when the follower sees one of its parents end.
  const flows = startFlowLoop({
    connection: queueConnection(config),
    queue,
    store,
    log,
    tubePrefix: config.tubePrefix,
    tally,
    follower,
  });
  const eventHub = createEventHub(follower, log, config.events);
  const inHand = new RequestsInHand();
  const app = createApp({
    queue,
    store,
    log,
    tubePrefix: config.tubePrefix,
    maxJsonDepth: config.maxJsonDepth,
    acceptAnyPath: config.acceptAnyPath,
    allowPrototypeKeys: config.allowPrototypeKeys,
    defaultOptions: {
      priority: 1024,
      delay: 0,
      ttr: config.jobTtrSeconds,
      maxAttempts: config.jobMaxAttempts,
    },
    idempotencyTtlMs: config.idempotencyTtlSeconds * 1000,
    acceptHoldSeconds: config.acceptHoldSeconds,
    security: config.security,
    bodyTimeoutMs: config.security.bodyTimeoutMs,
    trustProxy: config.security.trustProxy,
    allowedTypes: config.jobTypes,
    batchMaxItems: config.batchMaxItems,
    batchMaxBytes: config.batchMaxBytes,
    maxWaiters: config.maxWaiters,
    follower,
    eventHub,
    events: config.events,
    maxJobSize: () => maxJobSize,
    webhooks: config.webhooks,
    workerGoneAfterMs: config.workerGoneAfterMs,
    processMetrics: true,
    acceptCounts,
    tally,
    inHand,
  });
  const server = createHttpServer(app.callback(), {
    bodyTimeoutMs: config.security.bodyTimeoutMs,
    maxConnections: config.security.maxConnections,
    log: log.child({ task: 'http' }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listenPort, config.listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost =
    config.listenHost === '0.0.0.0' || config.listenHost === '::' ? '127.0.0.1' : config.listenHost;
  const url = `http://${shownHost}:${port}`;
  log.info(
    {
      url,
      beanstalkd: queue.servers.map((server) => server.server).join(','),
      db: config.mongo.dbName,
      apiKeys: config.security.apiKeys.map((k) => k.name),
      rateLimitPerMinute: config.security.rateLimitPerMinute,
    },
    'manager listening',
  );

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    stop() {
      stopping ??= (async () => {
        log.info('manager stopping');
        for (const stopWatching of stopWatchingQueue) stopWatching();
        stopWatchingStore();
        const deadline = Date.now() + REQUESTS_GRACE_MS;
        // Answers close their connections from now on, long-polls answer with the state they
        // have, and event streams, which never end on their own, end: otherwise a client that
        // keeps its connection busy would keep the server open.
        inHand.close();
        follower.close();
        eventHub.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (!(await settlesWithin(closed, deadline - Date.now()))) {
          log.warn(
            { graceMs: REQUESTS_GRACE_MS },
            'manager stopping with connections still open after the grace; closing them',
          );
          server.closeAllConnections();
          await closed;
        }
        // A request whose client left closed its connection, not its work: let its accept
        // finish before beanstalkd and MongoDB close under it.
        if (!(await inHand.settled(Math.max(0, deadline - Date.now()))))
          log.warn(
            { requests: inHand.count, graceMs: REQUESTS_GRACE_MS },
            'manager stopping with requests still in hand after the grace',
          );
        await Promise.all([maintenance.stop(), heartbeat.stop(), scheduler.stop(), flows.stop()]);
        await tally.stop();
        await Promise.all([queue.close(), store.close()]);
        log.info('manager stopped');
      })();
      return stopping;
    },
  };
}
