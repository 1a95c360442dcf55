/**
 * A worker process: `concurrency` slots, each with its own beanstalkd connection, each a
 * loop of reserve → run → store → delete. A pass that fails is logged and retried with
 * capped backoff; the loop itself never dies. stop() stops reserving, lets jobs in hand
 * finish within the grace period, then closes (beanstalkd puts unfinished jobs back).
 */
import type { WorkerConfig } from '../config.js';
import { errorMessage } from '../errors.js';
import type { HandlerRegistry } from '../handlers/index.js';
import type { Logger } from '../log.js';
import { type Consumer, createConsumer } from '../queue/index.js';
import { createStore, type Store } from '../store/index.js';
import { startObserver } from './observer.js';
import { runJob } from './run-job.js';

export interface RunningWorker {
  readonly name: string;
  /** Stops reserving, waits up to `graceMs` for jobs in hand, closes. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface WorkerDeps {
  handlers: HandlerRegistry;
  log: Logger;
  /** Given in tests; otherwise made from the config. */
  store?: Store;
}

const DEFAULT_GRACE_MS = 8_000;

function backoffMs(failures: number): number {
  return Math.min(5_000, 100 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2);
}

export async function startWorker(config: Readonly<WorkerConfig>, deps: WorkerDeps): Promise<RunningWorker> {
  const log = deps.log.child({ worker: config.workerName });
  const ownStore = deps.store === undefined;
  const store =
    deps.store ??
    createStore({
      url: config.mongo.url,
      dbName: config.mongo.dbName,
      timeoutMs: config.mongo.timeoutMs,
      insertRetryMs: config.storeRetryMs,
    });
  const types = [...deps.handlers.keys()];
  const tubes = types.map((type) => `${config.tubePrefix}${type}`);
  // Heartbeats, counts and /metrics; the slots store outcomes through `observer.store`.
  const observer = await startObserver(config, { store, types, log });
  const abort = new AbortController();
  let stopping = false;
  let queueDown = false;
  const { min, max } = config.workDelayMs;
  const pickWorkDelayMs = () => (max === 0 ? 0 : min + Math.floor(Math.random() * (max - min + 1)));

  const noteQueue = (down: boolean, error?: unknown) => {
    if (down === queueDown) return;
    queueDown = down;
    if (down) log.warn({ error: errorMessage(error) }, 'beanstalkd unavailable; retrying with backoff');
    else log.info('beanstalkd reachable again');
  };

  const idleWakers = new Set<() => void>();
  const inReserve = new Set<number>();

  async function runSlot(slot: number, consumer: Consumer): Promise<void> {
    const slotLog = log.child({ slot });
    const workerName = `${config.workerName}:${slot}`;
    let failures = 0;
    while (!stopping) {
      let job: Awaited<ReturnType<Consumer['reserve']>>;
      try {
        inReserve.add(slot);
        job = await consumer.reserve(config.reserveTimeoutSeconds);
        failures = 0;
        noteQueue(false);
      } catch (error: unknown) {
        if (stopping) break;
        failures += 1;
        noteQueue(true, error);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(wake, backoffMs(failures));
          function wake() {
            clearTimeout(timer);
            idleWakers.delete(wake);
            resolve();
          }
          idleWakers.add(wake);
        });
        continue;
      } finally {
        inReserve.delete(slot);
      }
      if (!job) continue;
      await runJob(job, {
        consumer,
        store: observer.store,
        handlers: deps.handlers,
        log: slotLog,
        workerName,
        pickWorkDelayMs,
        signal: abort.signal,
      });
    }
  }

  const consumers = Array.from({ length: config.concurrency }, () =>
    createConsumer({
      host: config.beanstalk.host,
      port: config.beanstalk.port,
      connectTimeoutMs: config.beanstalk.timeoutMs,
      commandTimeoutMs: config.beanstalk.timeoutMs,
      tubes,
    }),
  );
  const slots = consumers.map((consumer, slot) =>
    runSlot(slot, consumer).catch((error: unknown) => {
      log.error({ slot, err: error }, 'worker slot ended unexpectedly');
    }),
  );
  log.info(
    {
      types,
      tubes,
      concurrency: config.concurrency,
      beanstalkd: `${config.beanstalk.host}:${config.beanstalk.port}`,
    },
    'worker started',
  );

  let stopped: Promise<void> | undefined;
  return {
    name: config.workerName,
    stop(graceMs = DEFAULT_GRACE_MS) {
      stopped ??= (async () => {
        stopping = true;
        log.info({ graceMs }, 'worker stopping');
        for (const wake of idleWakers) wake();
        // Slots waiting in reserve hold no job: closing their connection ends the wait now.
        for (const slot of inReserve) void consumers[slot]?.close();
        const all = Promise.all(slots);
        const grace = new Promise<'timeout'>((resolve) =>
          setTimeout(() => resolve('timeout'), graceMs).unref(),
        );
        await Promise.race([all, grace]);
        abort.abort();
        await Promise.all(consumers.map((consumer) => consumer.close()));
        await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        await observer.stop();
        if (ownStore) await store.close();
        log.info('worker stopped');
      })();
      return stopped;
    },
  };
}
