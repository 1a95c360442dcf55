/**
 * An outcome a manager stores for a job no worker ended: a client's cancel (actions.ts), and a
 * flow's job whose parent failed or was cancelled (background/flow-loop.ts). It goes through the
 * one-outcome rule like a worker's: inserted under the job's unique `_id`, so whoever lands
 * first is the job's outcome and the other side sees it; counted in this manager's tally,
 * announced to the job's webhook, and marked in its group and among the failed or cancelled.
 */
import type { Tally } from '../../jobs/tally.js';
import type { Logger } from '../../log.js';
import type { QueueSet } from '../../queue/index.js';
import {
  type JobDocument,
  Outcome,
  RESULT_PAYLOAD_BYTES,
  type ResultDocument,
  type Store,
} from '../../store/index.js';
import { deliveryEnqueuer } from '../../webhooks/enqueue.js';

export interface ManagerOutcomeDeps {
  queue: QueueSet;
  store: Store;
  log: Logger;
  tubePrefix: string;
  /** Counts the outcomes this manager stores (jobs/tally.ts). */
  tally: Tally;
}

/** What a manager ends a job with. */
export interface ManagerEnding {
  outcome: typeof Outcome.CANCELLED | typeof Outcome.FAILED;
  error?: { message: string };
}

/** How long a stored outcome waits for its count to be committed before the caller goes on anyway. */
const COUNT_WAIT_MS = 2000;

export function createManagerOutcomes(deps: ManagerOutcomeDeps) {
  const { store } = deps;
  const enqueueDelivery = deliveryEnqueuer(deps.queue, deps.tubePrefix);

  /**
   * Stores `ending` as the job's outcome (a `failed` one it had, `prior`, is replaced). Answers
   * 'stored', or the outcome stored first by someone else ('duplicate'). The job's copy in
   * beanstalkd is the caller's to remove.
   */
  async function end(
    id: string,
    job: JobDocument | null,
    prior: ResultDocument | null,
    ending: ManagerEnding,
  ): Promise<{ stored: true } | { stored: false; winner: ResultDocument | null }> {
    const now = new Date();
    const type = job?.type ?? prior?.type ?? 'unknown';
    const flow = job?.flow ?? prior?.flow;
    const doc = (tally: ResultDocument['tally']): ResultDocument => ({
      _id: id,
      type,
      outcome: ending.outcome,
      ...(ending.error !== undefined ? { error: ending.error } : {}),
      worker: 'manager',
      attempt: prior?.attempt ?? 0,
      startedAt: now,
      finishedAt: now,
      durationMs: 0,
      ...(tally ? { tally } : {}),
      ...(job?.group !== undefined ? { group: job.group } : {}),
      ...(job?.callback !== undefined ? { webhook: true } : {}),
      ...(flow !== undefined ? { flow } : {}),
      ...(job && Buffer.byteLength(job.payload) <= RESULT_PAYLOAD_BYTES ? { payload: job.payload } : {}),
    });
    // The webhook is announced before anything changes, so no crash loses it: it goes out
    // once this very outcome is stored (and is dropped if it never is). Refused: a 503, and
    // nothing changed.
    if (job?.callback !== undefined) await enqueueDelivery(doc(undefined), job.callback, { confirm: true });
    if (prior) await store.deleteResult(id, Outcome.FAILED);
    const k = deps.tally.tag();
    let stored: Awaited<ReturnType<Store['saveResult']>>;
    try {
      stored = await store.saveResult(doc({ w: deps.tally.id, k }));
    } catch (error: unknown) {
      // It may have landed all the same: a retry finds it (below) and counts it.
      deps.tally.settle(k, undefined, undefined, id);
      throw error;
    }
    if (stored === 'duplicate') {
      const winner = await store.findResult(id);
      // Our own outcome, landed on an earlier try of the insert whose answer was lost.
      if (
        winner?.tally?.w === deps.tally.id &&
        winner.tally.k === k &&
        winner.startedAt.getTime() === now.getTime()
      ) {
        stored = 'inserted';
      } else {
        // Stored by someone whose tally may not have counted it (their write failed unanswered,
        // or they died first): a maybe, decided by the fold like a worker's.
        const maybe =
          winner?.tally !== undefined
            ? { job: id, ...winner.tally, type: winner.type, outcome: winner.outcome, at: new Date() }
            : undefined;
        deps.tally.settle(k, undefined, maybe);
        return { stored: false, winner };
      }
    }
    const group = job?.group !== undefined ? { group: job.group } : {};
    deps.tally.settle(k, { type, outcome: ending.outcome, _id: id, finishedAt: now, ...group });
    // Go on once it is counted (a commit, a fraction of a second), unless the store is slow.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      deps.tally.committed(k).catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, COUNT_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    await mark(id, type, ending.outcome, now, job?.group);
    return { stored: true };
  }

  /** Marks the ended job in its group and among the failed or cancelled (writing a mark twice changes nothing). */
  async function mark(id: string, type: string, outcome: ManagerEnding['outcome'], at: Date, group?: string) {
    if (group !== undefined) await store.markGroupJob(group, { id, state: outcome, at, startedAt: at });
    await store.markState(outcome, {
      id,
      state: outcome,
      at,
      type,
      ...(group !== undefined ? { group } : {}),
    });
  }

  /**
   * Marks again an outcome a manager stored (`worker: 'manager'`): one that died between the
   * insert and the marks left them unwritten (the flow loop calls this when a waiter comes back).
   */
  async function markAgain(result: ResultDocument): Promise<void> {
    if (result.worker !== 'manager' || result.outcome === Outcome.COMPLETED) return;
    await mark(result._id, result.type, result.outcome, result.finishedAt, result.group);
  }

  return { end, markAgain };
}

export type ManagerOutcomes = ReturnType<typeof createManagerOutcomes>;
