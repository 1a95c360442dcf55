/**
 * A completed job's delete, sent once its outcome is counted in a committed tally, while the
 * slot goes on with its next job.
 */
import type { Logger } from '../log.js';
import type { Consumer } from '../queue/index.js';

/** What deleteWhenCounted needs of a slot's dependencies. */
export interface DeleteWhenCountedDeps {
  consumer: Pick<Consumer, 'delete'>;
  /** Resolves once the job's stored outcome is counted (jobs/tally.ts). Absent: at once. */
  counted?: (jobId: string) => Promise<void>;
  log: Logger;
}

/**
 * A pending delete: `sent` resolves when the delete is on its way (or given up), so that the
 * slot's next reserve leaves in the same write; `done` once it is answered. Neither rejects.
 */
export interface PendingDelete {
  sent: Promise<void>;
  done: Promise<void>;
}

/**
 * The job's delete, not awaited by runJob: the job leaves beanstalkd once its outcome is
 * counted (a tally commit, within a fraction of a second); the slot waits for it before it
 * stops. A function of its own so that a job waiting here holds its ids only, not runJob's
 * frame (its body, its stats, its outcome): what a job holds while it waits outlives the young
 * generation and is promoted (docs/performance-journal.md, "A worker's CPU, every thread counted").
 */
export function deleteWhenCounted(
  deps: DeleteWhenCountedDeps,
  jobId: string,
  beanstalkId: string,
): PendingDelete {
  let markSent = () => {};
  const sent = new Promise<void>((resolve) => {
    markSent = resolve;
  });
  const done = (async () => {
    try {
      await deps.counted?.(jobId);
      const deleted = deps.consumer.delete(beanstalkId);
      markSent();
      await deleted;
    } finally {
      markSent();
    }
  })().catch((error: unknown) => {
    // Its TTR passed or its connection dropped and another worker has it now, or the worker
    // stopped before the outcome was counted: whoever gets it next finds the outcome stored.
    deps.log.info(
      { err: error, jobId, beanstalkId },
      'job not deleted (no longer ours, or not yet counted); outcome kept',
    );
  });
  return { sent, done };
}
