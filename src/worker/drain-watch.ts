/**
 * Batch mode (`--exit-when-drained`): the worker leaves once its types' tubes have stayed empty
 * on every server, and its slots idle, for the configured idle time.
 */
import { queueConnection, type WorkerConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { createQueueClient, isQueueError, QueueErrorCode } from '../queue/index.js';

/** What the slots are doing, read at every poll. */
export interface SlotActivity {
  stopping: boolean;
  /** Jobs in hand. */
  busy: number;
  /** When the last job was taken or finished (ms since the epoch). */
  lastBusyAt: number;
}

/** Polls `tubes` while the slots idle; resolves once all stayed empty for the idle time. */
export function watchForDrain(
  config: Readonly<WorkerConfig>,
  tubes: readonly string[],
  log: Logger,
  activity: () => SlotActivity,
): Promise<void> {
  const queues = config.beanstalk.servers.map((server) =>
    createQueueClient({ ...queueConnection(config), ...server, inspectors: 1 }),
  );
  const isEmpty = async () => {
    for (const queue of queues) {
      for (const tube of tubes) {
        try {
          const stats = await queue.statsTube(tube);
          if (stats.currentJobsReady + stats.currentJobsDelayed + stats.currentJobsReserved > 0) return false;
        } catch (error: unknown) {
          if (!isQueueError(error, QueueErrorCode.NOT_FOUND)) return false;
        }
      }
    }
    return true;
  };
  return new Promise<void>((resolve) => {
    const timer = setInterval(
      () => {
        const before = activity();
        if (before.stopping || before.busy > 0 || Date.now() - before.lastBusyAt < config.drainIdleMs) return;
        void isEmpty().then((empty) => {
          const after = activity();
          if (!empty || after.busy > 0 || after.stopping) return;
          clearInterval(timer);
          log.info({ idleMs: config.drainIdleMs }, 'queue drained');
          void Promise.all(queues.map((queue) => queue.close())).finally(resolve);
        });
      },
      Math.max(100, Math.min(500, config.drainIdleMs / 2)),
    );
    timer.unref();
  });
}
