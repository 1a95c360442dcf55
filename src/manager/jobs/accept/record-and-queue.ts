/**
 * Recording and queueing accepted jobs, one at a time or a batch's chunk at a time; the job
 * service (accept.ts) decides which jobs come here and answers for them.
 *
 * Order on accept. Two orders, both leaving nothing run that is not recorded; which one is
 * ACCEPT_HOLD_SECONDS's choice.
 *
 * Record first (the default, and always for a delayed job): insert the record, put, then note
 * where in `queue_refs` (not awaited by the answer). The window this leaves — recorded but not queued — is closed by
 * compensation (a failed put deletes the record before the 503) and, when even that fails,
 * by the record staying behind with no outcome and no queue copy, which GET reports and the
 * reconciler puts again. A put in doubt (sent, then no reply) may have queued the job: its
 * record stays, the put is tried once more, and the answer is 202 either way.
 *
 * Hold and kick (ACCEPT_HOLD_SECONDS > 0, a job to run now): put it delayed by the hold, its
 * envelope marked `held`, insert the record with where it was put, then kick it. One
 * document per accepted job and one insert for the POST to wait on, but one more beanstalkd
 * write (an fsync of its own with `-f 0`). The hold outlasts any insert the manager waits
 * for, so only a job whose manager died or gave up between put and kick reaches a worker
 * un-kicked, and the worker runs it only if its record names that copy. A failed insert
 * deletes the held copy before the 503; a failed kick still answers 202 (recorded and
 * queued: it runs when the hold ends, or when the reconciler or a replay kicks it).
 *
 * Duplicate deliveries that either order may cause are harmless: one outcome per job.
 */
import { AppError, ErrorCode } from '../../../errors.js';
import { newJobId } from '../../../jobs/job-id.js';
import { firstCopy, isPutInDoubt, kickHeld, putCopy, type QueueCopy } from '../../../jobs/queue-copy.js';
import type { Logger } from '../../../log.js';
import type { Placed, QueueSet } from '../../../queue/index.js';
import type { JobDocument, QueueRefDocument, Store } from '../../../store/index.js';
import type { WebhookPolicy } from './callback.js';
import type { AcceptResult } from './idempotency.js';
import { acceptedOf, jobRecord } from './job-record.js';
import type { RequestedJob } from './options.js';

/** Queue refs a manager lets go unawaited before its answers wait for them again. */
const MAX_REFS_IN_FLIGHT = 1000;

/** What recording and queueing need: the job service's dependencies (accept.ts) but its reads. */
export interface RecorderDeps {
  queue: QueueSet;
  store: Store;
  log: Logger;
  tubePrefix: string;
  maxJobSize: () => number;
  acceptHoldSeconds?: number;
  webhooks?: WebhookPolicy;
}

/** One job to accept: what `accept` takes. */
export interface AcceptEntry {
  request: RequestedJob;
  payload: { text: string; bytes: number };
  idempotencyKey?: string;
}

export function createRecorder(deps: RecorderDeps) {
  const { queue, store, log } = deps;
  const holdSeconds = deps.acceptHoldSeconds ?? 0;

  async function undoRecord(id: string, reason: unknown): Promise<void> {
    try {
      await store.deleteJob(id);
    } catch (error: unknown) {
      // The record stays without a queue copy: GET reports it, the reconciler puts it again.
      log.error(
        { jobId: id, err: error, reason: String(reason) },
        'job recorded but not queued, and the record could not be removed',
      );
    }
  }

  /** Hold and kick: put `copy` (on hold), record with the location, kick. */
  async function putThenRecord(record: JobDocument, copy: QueueCopy): Promise<void> {
    const id = record._id;
    const { server, beanstalkId } = await putCopy(queue, copy);
    const holder = queue.holder({ server, beanstalkId });
    try {
      await store.insertJob({ ...record, queue: { server, beanstalkId, tube: copy.tube } });
    } catch (error: unknown) {
      await holder.deleteJob(beanstalkId).catch((deleteError: unknown) => {
        log.warn(
          { jobId: id, err: deleteError },
          'job not recorded, and its held copy could not be removed; a worker drops it when the hold ends',
        );
      });
      throw error;
    }
    try {
      await kickHeld(holder, beanstalkId);
    } catch (error: unknown) {
      // Recorded and queued all the same: a worker runs it when the hold ends (it finds the
      // record), or, if beanstalkd lost it, the reconciler puts it again.
      log.warn(
        { jobId: id, err: error, holdSeconds },
        'job recorded but not kicked from its hold; it runs when the hold ends',
      );
    }
  }

  /**
   * Puts a recorded job's `copy`: where it landed, or null when beanstalkd never confirmed it
   * (the record stays, and the reconciler puts it if it never landed). A put that surely
   * failed removes the record and throws.
   */
  async function putRecorded(id: string, copy: QueueCopy): Promise<Placed | null> {
    try {
      return await putCopy(queue, copy);
    } catch (error: unknown) {
      if (!isPutInDoubt(error)) {
        await undoRecord(id, error);
        throw error;
      }
      // beanstalkd may hold the job (its reply was lost), so the record stays: removing it
      // would leave a copy that runs with no record. Put once more; if that fails too, the
      // reconciler puts it once beanstalkd answers. A second copy costs a second run, never
      // a second outcome.
      let placed: Placed;
      try {
        placed = await putCopy(queue, copy);
      } catch (retryError: unknown) {
        log.warn(
          { jobId: id, err: retryError },
          'job recorded; beanstalkd did not confirm its put, and the reconciler puts it again if it never landed',
        );
        return null;
      }
      // Said, so a job that runs twice with no fault near it can be explained (the chaos soak
      // found such jobs): the first put may have landed too.
      log.info(
        { jobId: id, err: error, server: placed.server },
        'job put again after a put beanstalkd did not confirm; it may run twice',
      );
      return placed;
    }
  }

  function refNotStored(id: string, error: unknown): void {
    // Accepted all the same. Without the ref GET cannot show live fields, and the
    // reconciler, finding no copy it can name, puts the job again (one outcome still).
    log.warn({ jobId: id, err: error }, 'job queued but its queue reference was not stored');
  }

  /** Record first: record, put `copy`, note where. */
  async function recordThenPut(
    record: JobDocument,
    copy: QueueCopy,
    finishing: boolean,
  ): Promise<'queued' | 'recorded elsewhere'> {
    const id = record._id;
    // A duplicate is our own insert retried after a lost answer, unless we are finishing
    // another request's job: then that request recorded it and puts it.
    if ((await store.insertJob(record)) === 'duplicate' && finishing) return 'recorded elsewhere';
    const placed = await putRecorded(id, copy);
    if (placed === null) return 'queued';
    // Not awaited: recorded and queued is what the 202 promises, and the POST answers one
    // insert sooner. Until the ref lands, this process's store answers findQueueRef from it.
    // A waiter's answer waits for its ref (below): its insert does not linger.
    const inserting = store
      .insertQueueRef(
        { _id: id, ...placed, tube: copy.tube, putAt: new Date() },
        { now: record.flow !== undefined },
      )
      .catch((error: unknown) => refNotStored(id, error));
    // Past a bound, answers wait for their refs again: a flood of batches faster than the
    // store must not pile refs up in memory (measured: manager peak RSS 140 -> 164 MB).
    if (store.queueRefsInFlight() > MAX_REFS_IN_FLIGHT) await inserting;
    // A waiter is judged only once the ref names it (manager/background/flow-loop.ts).
    else if (record.flow !== undefined) await inserting;
    return 'queued';
  }

  /**
   * Record first for many jobs at once (`entries` that `inBulk` allows), as recordThenPut
   * for each, with one call for their records and one for their refs instead of a chain of
   * promises per job: what a batch's accepts hold in flight is what its garbage collections
   * copy (docs/performance-journal.md, "A batch accepted in chunks"). Each entry's fate in order.
   */
  async function recordAndQueueMany(
    entries: readonly AcceptEntry[],
  ): Promise<PromiseSettledResult<AcceptResult>[]> {
    const settled = new Array<PromiseSettledResult<AcceptResult>>(entries.length);
    const records: JobDocument[] = [];
    const copies: QueueCopy[] = [];
    const at: number[] = [];
    entries.forEach(({ request, payload }, index) => {
      try {
        const record = recordOf(request.matrix?.id ?? request.presetId ?? newJobId(), request, payload);
        const { copy, largestBytes } = firstCopy(record, deps.tubePrefix, { first: true });
        checkFits(largestBytes);
        records.push(record);
        copies.push(copy);
        at.push(index);
      } catch (reason: unknown) {
        settled[index] = { status: 'rejected', reason };
      }
    });
    // A duplicate is our own insert retried after a lost answer: put it all the same.
    const fates = await store.insertJobs(records);
    const refs: QueueRefDocument[] = [];
    await Promise.all(
      records.map(async (record, k) => {
        const index = at[k] as number;
        const fate = fates[k];
        if (typeof fate === 'object') {
          settled[index] = { status: 'rejected', reason: fate.error };
          return;
        }
        const copy = copies[k] as QueueCopy;
        try {
          const placed = await putRecorded(record._id, copy);
          if (placed !== null) refs.push({ _id: record._id, ...placed, tube: copy.tube, putAt: new Date() });
          settled[index] = { status: 'fulfilled', value: acceptedOf(record) };
        } catch (reason: unknown) {
          settled[index] = { status: 'rejected', reason };
        }
      }),
    );
    if (refs.length > 0) {
      // Not awaited, as in recordThenPut, unless too many are in flight.
      const inserting = store.insertQueueRefs(refs).then(
        (errors) => {
          errors.forEach((failed, k) => {
            if (failed !== undefined) refNotStored(refs[k]?._id ?? '', failed.error);
          });
        },
        (error: unknown) => {
          for (const ref of refs) refNotStored(ref._id, error);
        },
      );
      if (store.queueRefsInFlight() > MAX_REFS_IN_FLIGHT) await inserting;
    }
    return settled;
  }

  /**
   * Whether a job (its request or its record) takes hold and kick: only jobs that run now (a
   * delayed job, or one with parents that waits first, is recorded first).
   */
  function isHeld(job: Pick<JobDocument, 'options' | 'flow'>): boolean {
    return holdSeconds > 0 && job.options.delay === 0 && job.flow === undefined;
  }

  /** The job's record as accept stores it; a bad callback URL throws. */
  function recordOf(
    id: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
  ): JobDocument {
    return jobRecord(id, request, payload, deps.webhooks);
  }

  /** PAYLOAD_TOO_LARGE unless every copy of the job (its largest: `size` bytes) fits beanstalkd's max-job-size. */
  function checkFits(size: number): void {
    const limit = deps.maxJobSize();
    if (size > limit) {
      throw new AppError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `the job is ${size} bytes once queued; beanstalkd accepts at most ${limit} (max-job-size)`,
      );
    }
  }

  /**
   * Records and queues one job under `id`; resolves only when both MongoDB and beanstalkd have
   * it. `finishing`: the id is another request's, whose claim on an Idempotency-Key is all we
   * found; if that request records the job first, it is `recordedElsewhere` and the answer is
   * the replay's (idempotency.ts).
   */
  async function recordAndQueue(
    id: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
    keyHash?: string,
    finishing = false,
  ): Promise<{ accepted: AcceptResult; recordedElsewhere: boolean }> {
    const record: JobDocument = {
      ...recordOf(id, request, payload),
      ...(keyHash !== undefined ? { idempotencyKey: keyHash } : {}),
    };
    const held = isHeld(record);
    const { copy, largestBytes } = firstCopy(
      record,
      deps.tubePrefix,
      held ? { first: true, holdSeconds } : { first: true },
    );
    checkFits(largestBytes);
    let recordedElsewhere = false;
    if (held) await putThenRecord(record, copy);
    else recordedElsewhere = (await recordThenPut(record, copy, finishing)) === 'recorded elsewhere';
    return { accepted: acceptedOf(record), recordedElsewhere };
  }

  return { recordOf, checkFits, isHeld, recordAndQueue, recordAndQueueMany };
}
