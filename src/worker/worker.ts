/**
 * A worker process: `concurrency` slots, each with its own beanstalkd connection, each a
 * loop of reserve → run → store → delete. A pass that fails is logged and retried with
 * capped backoff; the loop itself never dies. stop() stops reserving, lets jobs in hand
 * finish within the grace period, then closes (beanstalkd puts unfinished jobs back). Types
 * with rate or concurrency limits are watched by some slots only (slot-tubes.ts), and their
 * jobs start with their tokens (limit-gate.ts). Idle slots past two per tubes wait in the
 * worker, not in beanstalkd (parked-slots.ts).
 */
import { queueConnection, type WorkerConfig } from '../config/config.js';
import type { HandlerRegistry } from '../handlers/index.js';
import { readGroupResults } from '../jobs/group-results.js';
import { tubeName } from '../jobs/queue-copy.js';
import type { Logger } from '../log.js';
import { type Consumer, createConsumer, createJobStatsLane } from '../queue/index.js';
import { createStore, type Store } from '../store/index.js';
import { createBackendNotes } from './backend-notes.js';
import { watchForDrain } from './drain-watch.js';
import { createLimitGate } from './limits/limit-gate.js';
import { startLimitsCache } from './limits/limits-cache.js';
import { SlotTubes } from './limits/slot-tubes.js';
import { outcomeDeadlineMs, startReporting } from './observe/reporting.js';
import { IDLE_RESERVES, ParkedSlots } from './parked-slots.js';
import { ReserveWaiters } from './reserve-waiters.js';
import { type RunJobDeps, runJob } from './run-job.js';
import { startWorkerWebhooks } from './webhooks.js';

export interface RunningWorker {
  readonly name: string;
  /** With exitWhenDrained: resolves once the worker's types have stayed empty for the idle time. */
  readonly drained: Promise<void>;
  /**
   * Stops reserving, lets jobs in hand finish for up to `graceMs` (default: the configured
   * shutdown grace), releases the rest, closes. Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

export interface WorkerDeps {
  handlers: HandlerRegistry;
  log: Logger;
  /** Given in tests; otherwise made from the config. */
  store?: Store;
}

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
      onSilentClient: (silentMs) =>
        log.warn(
          { db: config.mongo.dbName, silentMs },
          'no MongoDB heartbeat succeeded for a while; connecting afresh',
        ),
    });
  const types = [...deps.handlers.keys()];
  const tubes = types.map((type) => tubeName(config.tubePrefix, type));
  // Heartbeats, counts and /metrics; the slots store outcomes through `reporting.store`.
  const reporting = await startReporting(config, { store, types, log });
  // Slots queue the deliveries of jobs with a callback URL; a loop delivers them (webhooks.ts).
  const webhooks = startWorkerWebhooks(config, { store, log, metrics: reporting.metrics });
  // Which types have limits: read before the first reserve, then every couple of seconds.
  const limits = startLimitsCache({ store, types, log });
  await limits.loaded;
  const slotTubes = new SlotTubes({
    types,
    tubeOf: (type) => tubeName(config.tubePrefix, type),
    limits,
  });
  limits.onChange(() => slotTubes.notify());
  const gate = createLimitGate({
    connection: queueConnection(config),
    tubePrefix: config.tubePrefix,
    limits,
    tubes: slotTubes,
    log,
    waitMs: config.limitWaitMs,
    onWait: (type, reason) => reporting.metrics.limitWait(type, reason),
  });
  // One stop signal per slot rather than one for all: every running handler listens on it,
  // and more than 10 listeners on one AbortSignal (64 slots by default, up to 256) make Node
  // print a MaxListenersExceededWarning. A slot runs one job at a time: one listener each.
  const slotStops: AbortController[] = [];
  let stopping = false;
  const { min, max } = config.workDelayMs;
  const pickWorkDelayMs = () => (max === 0 ? 0 : min + Math.floor(Math.random() * (max - min + 1)));

  const notes = createBackendNotes(log);

  const idleWakers = new Set<() => void>();
  let busy = 0;
  let lastBusyAt = Date.now();
  /** The slots waiting in a reserve, each with the tubes it watches. */
  const inReserve = new ReserveWaiters((slot) => consumers[slot]?.server);
  /** Idle slots waiting in the worker while IDLE_RESERVES others wait in a reserve for them. */
  const parked = new ParkedSlots(() => slotTubes.waitForChange());

  async function runSlot(slot: number, consumer: Consumer, stopSignal: AbortSignal): Promise<void> {
    const slotLog = log.child({ slot });
    const lane = statsLanes.get(consumer.server);
    const workerName = `${config.workerName}:${slot}`;
    let failures = 0;
    /**
     * Deletes of finished jobs still waiting for their outcome's tally commit (`unsent`) and not
     * yet answered (`unanswered`). A blocking reserve would hold back a delete not yet sent (one
     * command at a time per connection), so while any waits the slot only takes jobs that are
     * ready now; when none is (or another slot waits for them), it lets them go out first, its
     * next reserve in the same write.
     */
    let unsent: Promise<void> | undefined;
    const unanswered = new Set<Promise<void>>();
    // The same for every job of the slot: made once, not once per job (a job's delete holds it).
    const jobDeps: RunJobDeps = {
      consumer,
      store: reporting.store,
      handlers: deps.handlers,
      log: slotLog,
      workerName,
      pickWorkDelayMs,
      retryBaseMs: config.retryBaseMs,
      retryCapMs: config.retryCapMs,
      jobTimeoutMs: config.jobTimeoutMs,
      outcomeDeadlineMs: outcomeDeadlineMs(config),
      signal: stopSignal,
      noteStore: notes.store,
      counted: reporting.counted,
      events: reporting.events,
      enqueueDelivery: webhooks.enqueueDelivery,
      limits: gate,
      slot,
      groupResults: (group) => readGroupResults(store, group),
      severalServers: config.beanstalk.servers.length > 1,
      ...(lane ? { jobStats: lane.statsJob } : {}),
    };
    while (!stopping) {
      let job: Awaited<ReturnType<Consumer['reserve']>>;
      try {
        const watch = slotTubes.plan(slot);
        if (watch.length === 0) {
          // Only limited types, and none this slot may try now: wait for one (or a change).
          if (unsent) reporting.commitSoon(inReserve.beside(slot, consumer.server));
          await unsent;
          unsent = undefined;
          const wait = slotTubes.waitForChange(250);
          idleWakers.add(wait.wake);
          await wait.done;
          idleWakers.delete(wait.wake);
          continue;
        }
        await consumer.setTubes(watch);
        job = unsent && !inReserve.beside(slot, consumer.server, watch) ? await consumer.reserve(0) : null;
        if (!job) {
          // Nothing ready now: a run token kept for a next job of its type goes back first.
          gate.idle(slot);
          // A delete to send leaves with the next reserve, in one write: such a slot waits in
          // beanstalkd even beside others, and parks once that reserve times out. A slot
          // watching a limited type never parks (slot-tubes.ts).
          const deleting = unsent !== undefined;
          if (unsent) reporting.commitSoon(inReserve.beside(slot, consumer.server));
          await unsent;
          unsent = undefined;
          if (stopping) break;
          const mayPark = !deleting && !slotTubes.watchesLimited(watch);
          if (mayPark && inReserve.beside(slot, consumer.server, watch, IDLE_RESERVES)) {
            await parked.park(consumer.server);
            continue;
          }
          inReserve.enter(slot, watch);
          job = await consumer.reserve(config.reserveTimeoutSeconds);
        }
        // Fewer than IDLE_RESERVES left waiting beside the slot that took a job: a parked one joins.
        if (job && parked.size > 0 && !inReserve.beside(slot, consumer.server, watch, IDLE_RESERVES)) {
          parked.wakeOne(consumer.server);
        }
        failures = 0;
        notes.queue(false);
      } catch (error: unknown) {
        if (stopping) break;
        failures += 1;
        notes.queue(true, error);
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
        inReserve.leave(slot);
      }
      if (!job) continue;
      slotTubes.busy(slot);
      busy += 1;
      lastBusyAt = Date.now();
      const tail = await runJob(job, jobDeps);
      slotTubes.settled(slot);
      if (tail.deleting) {
        const { sent, done } = tail.deleting;
        // Neither rejects; the later of the two is the one to wait for.
        unsent = unsent ? unsent.then(() => sent) : sent;
        unanswered.add(done);
        void done.then(() => unanswered.delete(done));
      }
      busy -= 1;
      lastBusyAt = Date.now();
    }
    await Promise.all(unanswered);
  }

  // Slots take turns over the servers: slot i reserves from server i mod their number.
  const { servers } = config.beanstalk;
  // One connection per server asks stats-job for all the slots reserving from it.
  const statsLanes = new Map(
    servers.map((server) => [
      `${server.host}:${server.port}`,
      createJobStatsLane({ ...queueConnection(config), ...server }),
    ]),
  );
  const consumers = Array.from({ length: config.concurrency }, (_, slot) =>
    createConsumer({
      ...queueConnection(config),
      ...servers[slot % servers.length],
      tubes,
    }),
  );
  const slots = consumers.map((consumer, slot) => {
    const stop = new AbortController();
    slotStops.push(stop);
    return runSlot(slot, consumer, stop.signal).catch((error: unknown) => {
      log.error({ slot, err: error }, 'worker slot ended unexpectedly');
    });
  });
  const drained = config.exitWhenDrained
    ? watchForDrain(config, tubes, log, () => ({ stopping, busy, lastBusyAt }))
    : new Promise<void>(() => undefined);

  log.info(
    {
      types,
      tubes,
      concurrency: config.concurrency,
      beanstalkd: servers.map((server) => `${server.host}:${server.port}`).join(','),
    },
    'worker started',
  );

  let stopped: Promise<void> | undefined;
  return {
    name: config.workerName,
    drained,
    stop(graceMs = config.shutdownGraceMs) {
      stopped ??= (async () => {
        stopping = true;
        log.info({ graceMs }, 'worker stopping');
        for (const wake of idleWakers) wake();
        parked.wakeAll();
        // Slots waiting in reserve hold no job: closing their connection ends the wait now.
        for (const slot of inReserve.slots()) void consumers[slot]?.close();
        const delivering = webhooks.stopDelivering(graceMs);
        const all = Promise.all(slots);
        const settled = await Promise.race([
          all.then(() => true),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref()),
        ]);
        if (!settled) {
          // Past the grace: abort the handlers; each slot releases its job before it ends.
          for (const stop of slotStops) stop.abort();
          await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        }
        await Promise.all(consumers.map((consumer) => consumer.close()));
        for (const lane of statsLanes.values()) lane.close();
        limits.stop();
        slotTubes.close();
        await gate.close();
        await delivering;
        await webhooks.close();
        await reporting.stop();
        if (ownStore) await store.close();
        log.info({ graceful: settled }, 'worker stopped');
      })();
      return stopped;
    },
  };
}
