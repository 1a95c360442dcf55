/**
 * The job service: accepting a job (here), an Idempotency-Key's claim and replay
 * (idempotency.ts), and reading a job back (inspect.ts). A job's copy in beanstalkd — tube,
 * envelope, put, hold and kick — is built and written by jobs/queue-copy.ts; recording and
 * queueing a job (and the order of the two) is record-and-queue.ts's.
 */
import { AppError, ErrorCode } from '../../../errors.js';
import { newJobId } from '../../../jobs/job-id.js';
import { largestCopyBytes } from '../../../jobs/queue-copy.js';
import type { Logger } from '../../../log.js';
import type { QueueSet } from '../../../queue/index.js';
import { type JobOptions, mapConcurrently, POINT_READS_IN_FLIGHT, type Store } from '../../../store/index.js';
import { createJobInspector } from '../read/inspect.js';
import type { JobView } from '../read/views.js';
import { ACCEPTS_IN_FLIGHT, createSlots } from './accept-slots.js';
import { resolveCallback, type WebhookPolicy } from './callback.js';
import { type AcceptResult, createIdempotentAccept } from './idempotency.js';
import type { RequestedJob } from './options.js';
import { type AcceptEntry, createRecorder } from './record-and-queue.js';

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

/**
 * Jobs of a batch recorded and queued together: two chunks fill ACCEPTS_IN_FLIGHT, so one
 * chunk's records are inserted while the other's puts go out.
 */
const BULK_CHUNK = ACCEPTS_IN_FLIGHT / 2;

/** An id of a job id's length, for sizing an envelope before the job has an id. */
const SIZE_PROBE_ID = '00000000-0000-7000-8000-000000000000';

export function createJobService(deps: JobServiceDeps) {
  const { store } = deps;
  const inspector = createJobInspector(deps);
  const { recordOf, checkFits, isHeld, recordAndQueue, recordAndQueueMany } = createRecorder(deps);

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

  /** Whether an entry can be accepted with others (recordAndQueueMany): record first, no key, no parents. */
  function inBulk({ request, idempotencyKey }: AcceptEntry): boolean {
    return idempotencyKey === undefined && request.flow === undefined && !isHeld(request);
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
     * `accept` for each entry (a batch's items), each one's fate in order. Entries without an
     * Idempotency-Key or parents are recorded and queued BULK_CHUNK at a time; the others one
     * by one. All of them count against ACCEPTS_IN_FLIGHT, across this manager's requests.
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
