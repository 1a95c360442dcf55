/**
 * Accepting a job and reading one back, over the two adapters. Two orders on accept, both
 * leaving nothing run that is not recorded; which one is ACCEPT_HOLD_SECONDS's choice.
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
import { createHash } from 'node:crypto';
import { AppError, ErrorCode } from '../../errors.js';
import { jobIdTime, newJobId } from '../../jobs/job-id.js';
import type { Logger } from '../../log.js';
import { isQueueError, type QueueClient, QueueErrorCode } from '../../queue/index.js';
import {
  type JobDocument,
  type JobOptions,
  mapConcurrently,
  type QueueLocation,
  type ResultDocument,
  type Store,
} from '../../store/index.js';
import type { RequestedJob } from './options.js';
import { largestCopyBytes, putAgain, type QueueCopy, queueCopy, releaseHold } from './queue-copy.js';
import { findLiveCopy, type LiveCopy } from './queue-location.js';
import {
  type AcceptedJob,
  attemptViews,
  type JobView,
  liveView,
  mayHaveFailedRuns,
  payloadValue,
  resultView,
  STATE_OF_QUEUE,
} from './views.js';

/** Queue refs a manager lets go unawaited before its answers wait for them again. */
const MAX_REFS_IN_FLIGHT = 1000;

export interface JobServiceDeps {
  queue: QueueClient;
  store: Store;
  log: Logger;
  tubePrefix: string;
  defaultOptions: JobOptions;
  /** beanstalkd's max-job-size as last read from the server. */
  maxJobSize: () => number;
  /** How long an Idempotency-Key keeps answering with its first job. */
  idempotencyTtlMs: number;
  /** 0: record first. Otherwise: put on hold this many seconds, record, kick. */
  acceptHoldSeconds?: number;
}

/** Keys are stored hashed: a client's key may be something it would rather not leave in our database. */
export function hashIdempotencyKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * What an Idempotency-Key promises to repeat: the type, the options and parameters that
 * shape the job, and the payload's exact text (what gets stored, and hashed).
 */
function hashJobRequest(request: RequestedJob, payloadText: string): string {
  const { type, options, params } = request;
  const shape = [
    type,
    options.priority,
    options.delay,
    options.ttr,
    options.maxAttempts,
    Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ];
  return createHash('sha256').update(JSON.stringify(shape)).update('\n').update(payloadText).digest('hex');
}

/** An id of a job id's length, for sizing an envelope before the job has an id. */
const SIZE_PROBE_ID = '00000000-0000-7000-8000-000000000000';

export type AcceptResult = AcceptedJob & { replayed: boolean };

/**
 * Accepts in flight at once for one request (a batch, a matrix): enough for full insert
 * batches, few enough that a 10,000-job request does not hold 10,000 of them in memory at
 * once (a matrix of 10,000 raised the manager's peak RSS to 173 MB).
 */
export const ACCEPTS_IN_FLIGHT = 1000;

/** `fn` over `items`, ACCEPTS_IN_FLIGHT at a time, each item's fate in order. */
export function settleEach<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>) {
  return mapConcurrently(items, ACCEPTS_IN_FLIGHT, (item, index) =>
    fn(item, index).then(
      (value): PromiseSettledResult<R> => ({ status: 'fulfilled', value }),
      (reason: unknown): PromiseSettledResult<R> => ({ status: 'rejected', reason }),
    ),
  );
}

export function createJobService(deps: JobServiceDeps) {
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

  /** put, with its failures in the client's terms (a BURIED put is removed again). */
  async function putJob({ tube, body, options }: QueueCopy): Promise<string> {
    try {
      return await queue.put(tube, body, options);
    } catch (error: unknown) {
      if (isQueueError(error, QueueErrorCode.PUT_BURIED) && error.jobId !== undefined) {
        await queue.deleteJob(error.jobId).catch(() => undefined);
      }
      if (isQueueError(error, QueueErrorCode.JOB_TOO_BIG)) {
        throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, "the job is larger than beanstalkd's max-job-size", {
          cause: error,
        });
      }
      if (isQueueError(error)) {
        throw new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'beanstalkd did not take the job; try again', {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** True when a put failed after it went out: beanstalkd may have queued the job. */
  function putInDoubt(error: unknown): boolean {
    const cause = error instanceof AppError ? error.cause : error;
    return isQueueError(cause) && cause.inDoubt;
  }

  /** Hold and kick: put on hold, record with the location, kick. */
  async function putThenRecord(record: JobDocument): Promise<void> {
    const id = record._id;
    const copy = queueCopy(record, deps.tubePrefix, { first: true, holdSeconds });
    const beanstalkId = await putJob(copy);
    try {
      await store.insertJob({ ...record, queue: { server: queue.server, beanstalkId, tube: copy.tube } });
    } catch (error: unknown) {
      await queue.deleteJob(beanstalkId).catch((deleteError: unknown) => {
        log.warn(
          { jobId: id, err: deleteError },
          'job not recorded, and its held copy could not be removed; a worker drops it when the hold ends',
        );
      });
      throw error;
    }
    try {
      await queue.kickJob(beanstalkId);
    } catch (error: unknown) {
      // Recorded and queued all the same: a worker runs it when the hold ends (it finds the
      // record), or, if beanstalkd lost it, the reconciler puts it again.
      log.warn(
        { jobId: id, err: error, holdSeconds },
        'job recorded but not kicked from its hold; it runs when the hold ends',
      );
    }
  }

  /** Record first: record, put, note where. */
  async function recordThenPut(
    record: JobDocument,
    finishing: boolean,
  ): Promise<'queued' | 'recorded elsewhere'> {
    const id = record._id;
    const copy = queueCopy(record, deps.tubePrefix, { first: true });
    // A duplicate is our own insert retried after a lost answer, unless we are finishing
    // another request's job: then that request recorded it and puts it.
    if ((await store.insertJob(record)) === 'duplicate' && finishing) return 'recorded elsewhere';
    let beanstalkId: string;
    try {
      beanstalkId = await putJob(copy);
    } catch (error: unknown) {
      if (!putInDoubt(error)) {
        await undoRecord(id, error);
        throw error;
      }
      // beanstalkd may hold the job (its reply was lost), so the record stays: removing it
      // would leave a copy that runs with no record. Put once more; if that fails too, the
      // reconciler puts it once beanstalkd answers. A second copy costs a second run, never
      // a second outcome.
      try {
        beanstalkId = await putJob(copy);
      } catch (retryError: unknown) {
        log.warn(
          { jobId: id, err: retryError },
          'job recorded; beanstalkd did not confirm its put, and the reconciler puts it again if it never landed',
        );
        return 'queued';
      }
    }
    // Not awaited: recorded and queued is what the 202 promises, and the POST answers one
    // insert sooner. Until the ref lands, this process's store answers findQueueRef from it.
    const inserting = store
      .insertQueueRef({ _id: id, server: queue.server, beanstalkId, tube: copy.tube, putAt: new Date() })
      .catch((error: unknown) => {
        // Accepted all the same. Without the ref GET cannot show live fields, and the
        // reconciler, finding no copy it can name, puts the job again (one outcome still).
        log.warn({ jobId: id, err: error }, 'job queued but its queue reference was not stored');
      });
    // Past a bound, answers wait for their refs again: a flood of batches faster than the
    // store must not pile refs up in memory (measured: manager peak RSS 140 -> 164 MB).
    if (store.queueRefsInFlight() > MAX_REFS_IN_FLIGHT) await inserting;
    return 'queued';
  }

  /** Hold and kick applies to jobs that run now. */
  function isHeld(options: JobOptions): boolean {
    return holdSeconds > 0 && options.delay === 0;
  }

  /** The job's record as accept stores it (`createdAt`: its id's own time). */
  function recordOf(
    id: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
  ): JobDocument {
    const { type, options, params } = request;
    return {
      _id: id,
      type,
      payload: payload.text,
      bytes: payload.bytes,
      options,
      ...(Object.keys(params).length > 0 ? { params: { ...params } } : {}),
      ...(request.matrix
        ? { group: request.matrix.group, combination: { ...request.matrix.combination } }
        : {}),
      // The id's own time: a GET that reads no record shows the same createdAt.
      createdAt: jobIdTime(id),
    };
  }

  /** PAYLOAD_TOO_LARGE unless every copy of the job fits beanstalkd's max-job-size. */
  function checkFits(record: JobDocument): void {
    const size = largestCopyBytes(record);
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
   * found; if that request records the job first, its answer is the replay's.
   */
  async function recordAndQueue(
    id: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
    keyHash?: string,
    finishing = false,
  ): Promise<AcceptResult> {
    const record: JobDocument = {
      ...recordOf(id, request, payload),
      ...(keyHash !== undefined ? { idempotencyKey: keyHash } : {}),
    };
    checkFits(record);
    if (isHeld(record.options)) await putThenRecord(record);
    else if ((await recordThenPut(record, finishing)) === 'recorded elsewhere') {
      const job = await store.findJob(id);
      if (job) return await replay(id, job);
    }
    const { type, options, createdAt } = record;
    const state = options.delay > 0 ? 'delayed' : 'queued';
    return { id, state, type, createdAt: createdAt.toISOString(), replayed: false };
  }

  /** A replayed key's job: shown as it is now, and put back in the queue if it never got there. */
  async function replay(id: string, job: JobDocument): Promise<AcceptResult> {
    const { view, live } = await inspect(id, false);
    const createdAt = job.createdAt.toISOString();
    if (view && view.queue === null) {
      log.info({ jobId: id }, 'replayed job had no queue copy; putting it again');
      const { delay } = await putAgain(queue, store, job, deps.tubePrefix);
      return { id, state: delay > 0 ? 'delayed' : 'queued', type: job.type, createdAt, replayed: true };
    }
    if (live && (await releaseHold(queue, job, live))) {
      log.info({ jobId: id }, 'replayed job was still on hold; kicked it');
      return { id, state: 'queued', type: job.type, createdAt, replayed: true };
    }
    const state = view?.state ?? 'queued';
    return { id, state, type: job.type, createdAt, replayed: true };
  }

  /**
   * A finished job's view. The record (`job`: read already, null when there is none,
   * undefined when not read) is read here only for outcomes stored without `maxAttempts`.
   */
  async function finishedView(
    id: string,
    result: ResultDocument,
    job?: JobDocument | null,
  ): Promise<JobView> {
    const [record, attempts] = await Promise.all([
      job !== undefined || result.maxAttempts !== undefined ? (job ?? null) : store.findJob(id),
      mayHaveFailedRuns(result) ? store.findAttempts(id) : [],
    ]);
    return resultView(record, result, attempts);
  }

  /**
   * The job's view, and its live copy in beanstalkd when it has one. Every read is a point
   * read by the job's id, and only those the answer needs: a finished job costs one (its
   * outcome), a queued or running one its outcome's miss, its queue reference and beanstalkd's
   * stats-job and peek (the envelope gives type and attempt budget); the record is read only
   * when nothing else locates the job, and the failed runs only when there may be some. With
   * `withPayload`, the payload comes from what was read already — the outcome (which carries
   * payloads up to RESULT_PAYLOAD_BYTES), the live copy's envelope, or the record — and the
   * record is read for it only when none of them had it.
   */
  async function inspect(
    id: string,
    withPayload: boolean,
  ): Promise<{ view: JobView | null; live: LiveCopy | null }> {
    const { view, live, text } = await viewOf(id, await store.findResult(id));
    if (!view || !withPayload) return { view, live };
    const payload = text ?? (await store.findJob(id))?.payload;
    return { view: payload === undefined ? view : { ...view, payload: payloadValue(payload) }, live };
  }

  /** inspect's view once the outcome has been read, with the payload's text if a read had it. */
  async function viewOf(
    id: string,
    result: ResultDocument | null,
  ): Promise<{ view: JobView | null; live: LiveCopy | null; text?: string | undefined }> {
    if (result) return { view: await finishedView(id, result), live: null, text: result.payload };
    let job: JobDocument | null | undefined;
    const ref = await store.findQueueRef(id);
    let location: QueueLocation | null = ref;
    if (!location) {
      job = await store.findJob(id);
      if (!job) return { view: null, live: null };
      location = job.queue ?? null;
    }
    const live = await findLiveCopy(queue, id, location);
    if (live) {
      const { stats, envelope } = live;
      const ranBefore = envelope.requeued === true || stats.reserves > (stats.state === 'reserved' ? 1 : 0);
      const attempts = ranBefore ? await store.findAttempts(id) : [];
      const view: JobView = {
        id,
        type: envelope.type,
        createdAt: (job?.createdAt ?? jobIdTime(id)).toISOString(),
        maxAttempts: envelope.maxAttempts,
        ...(attempts.length > 0 ? { errors: attemptViews(attempts) } : {}),
        state: STATE_OF_QUEUE[stats.state],
        attempts: stats.reserves,
        // A held copy's beanstalkd delay is its accept hold (ended by the kick); only jobs
        // without a delay of their own are held.
        queue: { ...liveView(stats), ...(envelope.held ? { delay: 0 } : {}) },
      };
      return { view, live, text: envelope.payload };
    }
    if (location) {
      // Gone from beanstalkd: it may have finished between our reads.
      const late = await store.findResult(id);
      if (late) {
        return { view: await finishedView(id, late, job), live: null, text: late.payload ?? job?.payload };
      }
    }
    if (job === undefined) job = await store.findJob(id);
    if (!job) return { view: null, live: null };
    const attempts = await store.findAttempts(id);
    const view: JobView = {
      id,
      type: job.type,
      createdAt: job.createdAt.toISOString(),
      maxAttempts: job.options.maxAttempts,
      ...(attempts.length > 0 ? { errors: attemptViews(attempts) } : {}),
      state: 'queued',
      attempts: attempts.length,
      queue: null,
    };
    return { view, live: null, text: job.payload };
  }

  /** Accept under an Idempotency-Key (one at a time per key in this process). */
  async function acceptWithKey(
    fresh: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
    keyHash: string,
  ): Promise<AcceptResult> {
    const requestHash = hashJobRequest(request, payload.text);
    let id = fresh;
    let finishing = false;
    const claim = await store.claimIdempotencyKey(
      keyHash,
      id,
      new Date(),
      deps.idempotencyTtlMs,
      requestHash,
    );
    if (!claim.claimed) {
      // Keys claimed before requests were hashed carry none: they replay as they did.
      if (claim.request !== undefined && claim.request !== requestHash) {
        throw new AppError(
          ErrorCode.IDEMPOTENCY_KEY_REUSED,
          'this Idempotency-Key came first with another request (body, type or options); use a new key for a new job',
        );
      }
      const job = await store.findJob(claim.jobId);
      if (job) return await replay(claim.jobId, job);
      // The request that claimed the key has not recorded its job (it died, or another
      // manager is between the two): record it under that request's id.
      id = claim.jobId;
      finishing = true;
    }
    try {
      return await recordAndQueue(id, request, payload, keyHash, finishing);
    } catch (error: unknown) {
      // Nothing was accepted: let the client's retry start afresh.
      await store.releaseIdempotencyKey(keyHash, id).catch(() => undefined);
      throw error;
    }
  }

  /** Accepts with a key under way in this process, by key hash. */
  const acceptsByKey = new Map<string, Promise<AcceptResult>>();

  return {
    /**
     * Throws PAYLOAD_TOO_LARGE when the job would not fit beanstalkd's max-job-size once
     * queued, as accept would: a batch checks each item with it before recording any.
     */
    checkQueuedSize(request: RequestedJob, payloadText: string): void {
      // Every job id is a UUIDv7 of the same length: any one sizes the envelope exactly.
      checkFits(recordOf(request.matrix?.id ?? SIZE_PROBE_ID, request, { text: payloadText, bytes: 0 }));
    },

    /**
     * Records and queues one job. With an idempotency key, a key seen before answers with the
     * job it created first (`replayed: true`) instead of creating another, if it comes with
     * the same request; with another one it is IDEMPOTENCY_KEY_REUSED (422).
     */
    async accept(
      request: RequestedJob,
      payload: { text: string; bytes: number },
      idempotencyKey?: string,
    ): Promise<AcceptResult> {
      const id = request.matrix?.id ?? newJobId();
      if (idempotencyKey === undefined) return await recordAndQueue(id, request, payload);
      // One request per key at a time in this process: the others wait for it and replay
      // its job. Unserialized, a replay that came between the first request's insert and its
      // put found no queue copy and put one (20 POSTs with one key made up to 20 copies).
      const keyHash = hashIdempotencyKey(idempotencyKey);
      const before = acceptsByKey.get(keyHash);
      const accepting = (before ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => acceptWithKey(id, request, payload, keyHash));
      acceptsByKey.set(keyHash, accepting);
      try {
        return await accepting;
      } finally {
        if (acceptsByKey.get(keyHash) === accepting) acceptsByKey.delete(keyHash);
      }
    },

    /**
     * The job's state: its outcome if it has one, else beanstalkd's live view; with
     * `payload`, the job's payload too. Null if unknown.
     */
    async get(id: string, options: { payload: boolean }): Promise<JobView | null> {
      return (await inspect(id, options.payload)).view;
    },
  };
}

export type JobService = ReturnType<typeof createJobService>;
