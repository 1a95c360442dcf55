/**
 * The job service: accepting a job (here), an Idempotency-Key's claim and replay
 * (idempotency.ts), and reading a job back (inspect.ts). A job's copy in beanstalkd — tube,
 * envelope, put, hold and kick — is built and written by jobs/queue-copy.ts.
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
import { jobIdTime, newJobId } from '../../../jobs/job-id.js';
import {
  firstCopy,
  isPutInDoubt,
  kickHeld,
  largestCopyBytes,
  putCopy,
  type QueueCopy,
} from '../../../jobs/queue-copy.js';
import type { Logger } from '../../../log.js';
import type { Placed, QueueSet } from '../../../queue/index.js';
import {
  type JobDocument,
  type JobOptions,
  mapConcurrently,
  POINT_READS_IN_FLIGHT,
  type QueueRefDocument,
  type Store,
} from '../../../store/index.js';
import { createJobInspector } from '../read/inspect.js';
import type { JobView } from '../read/views.js';
import { ACCEPTS_IN_FLIGHT, createSlots } from './accept-slots.js';
import { resolveCallback, type WebhookPolicy } from './callback.js';
import { type AcceptResult, createIdempotentAccept } from './idempotency.js';
import type { RequestedJob } from './options.js';

/** Queue refs a manager lets go unawaited before its answers wait for them again. */
const MAX_REFS_IN_FLIGHT = 1000;

export interface JobServiceDeps {
  /** The beanstalkd servers (queue/queue-set.ts): a put goes to one of them. */
  queue: QueueSet;
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
  /** What `callback_url` is checked against; absent: webhooks off (WEBHOOKS_DISABLED). */
  webhooks?: WebhookPolicy;
}

/** One job to accept: what `accept` takes. */
export interface AcceptEntry {
  request: RequestedJob;
  payload: { text: string; bytes: number };
  idempotencyKey?: string;
}

/**
 * Jobs of a batch recorded and queued together: two chunks fill ACCEPTS_IN_FLIGHT, so one
 * chunk's records are inserted while the other's puts go out.
 */
const BULK_CHUNK = ACCEPTS_IN_FLIGHT / 2;

/** An id of a job id's length, for sizing an envelope before the job has an id. */
const SIZE_PROBE_ID = '00000000-0000-7000-8000-000000000000';

export function createJobService(deps: JobServiceDeps) {
  const { queue, store, log } = deps;
  const holdSeconds = deps.acceptHoldSeconds ?? 0;
  const inspector = createJobInspector(deps);

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
   * copy (docs/performance.md, "A batch accepted in chunks"). Each entry's fate in order.
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

  /** Hold and kick applies to jobs that run now (a job with parents waits first: record first). */
  function isHeld(record: JobDocument): boolean {
    return holdSeconds > 0 && record.options.delay === 0 && record.flow === undefined;
  }

  /**
   * UNKNOWN_PARENT unless each parent has a record or an outcome: at most MAX_PARENTS point
   * reads by `_id`, before anything is stored.
   */
  async function checkParents(id: string, request: RequestedJob): Promise<void> {
    const parents = request.flow?.dependsOn ?? [];
    if (parents.includes(id))
      throw new AppError(ErrorCode.INVALID_DEPENDS_ON, 'a job cannot depend on itself');
    const known = await mapConcurrently(parents, POINT_READS_IN_FLIGHT, async (parent) =>
      (await store.findJob(parent)) !== null ? true : (await store.findResult(parent)) !== null,
    );
    const unknown = parents.filter((_, i) => !known[i]);
    if (unknown.length > 0) {
      throw new AppError(
        ErrorCode.UNKNOWN_PARENT,
        `depends_on names no job${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`,
      );
    }
  }

  /** The job's record as accept stores it (`createdAt`: its id's own time); a bad callback URL throws. */
  function recordOf(
    id: string,
    request: RequestedJob,
    payload: { text: string; bytes: number },
  ): JobDocument {
    const { type, options, params } = request;
    const callback = resolveCallback(type, request.callbackUrl, deps.webhooks);
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
      ...(callback !== undefined ? { callback } : {}),
      ...(request.schedule ? { schedule: { name: request.schedule.name, tick: request.schedule.tick } } : {}),
      ...(request.flow
        ? {
            flow: {
              dependsOn: [...request.flow.dependsOn],
              onParentFailure: request.flow.onParentFailure,
              ...(request.flow.afterGroup !== undefined ? { afterGroup: request.flow.afterGroup } : {}),
            },
          }
        : {}),
      // The id's own time: a GET that reads no record shows the same createdAt.
      createdAt: jobIdTime(id),
    };
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

  /** The answer for a job this request recorded and queued. */
  function acceptedOf(record: JobDocument): AcceptResult {
    const { _id: id, type, options, createdAt } = record;
    const state = record.flow !== undefined ? 'waiting' : options.delay > 0 ? 'delayed' : 'queued';
    return { id, state, type, createdAt: createdAt.toISOString(), replayed: false };
  }

  /** Whether an entry can be accepted with others (recordAndQueueMany): record first, no key, no parents. */
  function inBulk({ request, idempotencyKey }: AcceptEntry): boolean {
    return (
      idempotencyKey === undefined &&
      request.flow === undefined &&
      !(holdSeconds > 0 && request.options.delay === 0)
    );
  }

  /**
   * Records and queues one job. With an idempotency key, a key seen before answers with the
   * job it created first (`replayed: true`) instead of creating another, if it comes with
   * the same request; with another one it is IDEMPOTENCY_KEY_REUSED (422).
   */
  async function accept(
    request: RequestedJob,
    payload: { text: string; bytes: number },
    idempotencyKey?: string,
  ): Promise<AcceptResult> {
    // Before an Idempotency-Key is claimed: a bad callback URL changes nothing.
    resolveCallback(request.type, request.callbackUrl, deps.webhooks);
    const id = request.matrix?.id ?? request.presetId ?? newJobId();
    if (request.flow !== undefined) await checkParents(id, request);
    if (idempotencyKey === undefined) return (await recordAndQueue(id, request, payload)).accepted;
    return await acceptWithKey(id, request, payload, idempotencyKey);
  }

  /** checkQueuedSize's largest copy of a request with an empty payload, per request. */
  const emptyPayloadBytes = new WeakMap<RequestedJob, number>();

  const acceptWithKey = createIdempotentAccept({ ...deps, inspector, recordAndQueue });
  const acceptSlot = createSlots(ACCEPTS_IN_FLIGHT);

  return {
    /**
     * `fn` (an accept) over a request's `items`, each item's fate in order; at most
     * ACCEPTS_IN_FLIGHT of them run at once across this manager's requests.
     */
    settleEach<T, R>(
      items: readonly T[],
      fn: (item: T, index: number) => Promise<R>,
    ): Promise<PromiseSettledResult<R>[]> {
      return mapConcurrently(items, ACCEPTS_IN_FLIGHT, (item, index) =>
        acceptSlot(() => fn(item, index)).then(
          (value): PromiseSettledResult<R> => ({ status: 'fulfilled', value }),
          (reason: unknown): PromiseSettledResult<R> => ({ status: 'rejected', reason }),
        ),
      );
    },

    /**
     * `accept` for each entry (a batch's items), each one's fate in order. Entries without an
     * Idempotency-Key or parents are recorded and queued BULK_CHUNK at a time; the others one
     * by one. All of them count against ACCEPTS_IN_FLIGHT, as settleEach's do.
     */
    async acceptEach(entries: readonly AcceptEntry[]): Promise<PromiseSettledResult<AcceptResult>[]> {
      const settled = new Array<PromiseSettledResult<AcceptResult>>(entries.length);
      const bulk: number[] = [];
      const single: number[] = [];
      entries.forEach((entry, index) => {
        (inBulk(entry) ? bulk : single).push(index);
      });
      const chunks: number[][] = [];
      for (let i = 0; i < bulk.length; i += BULK_CHUNK) chunks.push(bulk.slice(i, i + BULK_CHUNK));
      await Promise.all([
        ...chunks.map((chunk) =>
          acceptSlot(async () => {
            const fates = await recordAndQueueMany(chunk.map((index) => entries[index] as AcceptEntry));
            chunk.forEach((index, k) => {
              settled[index] = fates[k] as PromiseSettledResult<AcceptResult>;
            });
          }, chunk.length),
        ),
        mapConcurrently(single, ACCEPTS_IN_FLIGHT, async (index) => {
          const { request, payload, idempotencyKey } = entries[index] as AcceptEntry;
          settled[index] = await acceptSlot(() => accept(request, payload, idempotencyKey)).then(
            (value): PromiseSettledResult<AcceptResult> => ({ status: 'fulfilled', value }),
            (reason: unknown): PromiseSettledResult<AcceptResult> => ({ status: 'rejected', reason }),
          );
        }),
      ]);
      return settled;
    },

    /**
     * Throws PAYLOAD_TOO_LARGE when the job would not fit beanstalkd's max-job-size once
     * queued, as accept would: a batch checks each item with it before recording any.
     */
    checkQueuedSize(request: RequestedJob, payloadText: string): void {
      // Every job id is a UUIDv7 of the same length: any one sizes the envelope exactly.
      const sized = (text: string) =>
        largestCopyBytes(recordOf(request.matrix?.id ?? SIZE_PROBE_ID, request, { text, bytes: 0 }));
      let empty = emptyPayloadBytes.get(request);
      if (empty === undefined) {
        empty = sized('');
        emptyPayloadBytes.set(request, empty);
      }
      // The payload replaces the two quotes of an empty one by at most 6 bytes a UTF-16 unit
      // (`\uXXXX`) and its own two: within that bound no envelope needs encoding (an NDJSON
      // batch's lines share one request, so its items encode none here).
      if (empty + 6 * payloadText.length <= deps.maxJobSize()) return;
      checkFits(sized(payloadText));
    },

    accept,

    /**
     * The job's state: its outcome if it has one, else beanstalkd's live view; with
     * `payload`, the job's payload too. Null if unknown.
     */
    async get(id: string, options: { payload: boolean }): Promise<JobView | null> {
      return (await inspector.inspect(id, options.payload)).view;
    },
  };
}

export type JobService = ReturnType<typeof createJobService>;
