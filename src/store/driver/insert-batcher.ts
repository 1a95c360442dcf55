/**
 * Coalesces concurrent single-document inserts into `insertMany({ordered: false})`: on the
 * test server one insertMany of many documents costs about what one insertOne does
 * (docs/facts.md, "FerretDB"), so the hot path stays fast under load without callers
 * batching by hand.
 *
 * Each caller learns its own document's fate: `inserted`, `duplicate` (code 11000: the
 * `_id` is already there), or an error. Transient failures (unreachable server, SQLite's
 * "database is locked") are retried with capped backoff until `retryForMs` has passed,
 * then the caller gets StoreUnavailableError. A retried batch may have landed in part the
 * first time; those documents come back as `duplicate`.
 */
import { type Collection, type Document, MongoBulkWriteError, type OptionalUnlessRequiredId } from 'mongodb';
import {
  DUPLICATE_KEY,
  isDatabaseLocked,
  isStoreUnavailable,
  isTransientStoreError,
  StoreUnavailableError,
} from '../errors.js';

export type InsertOutcome = 'inserted' | 'duplicate';

export interface InsertBatcherOptions<T = never> {
  maxBatch: number;
  maxInFlight: number;
  retryForMs: number;
  /** Called when an attempt failed and will be retried: for logging by state change. */
  onRetry?: (error: unknown) => void;
  /**
   * Runs beside a batch's insert for the documents not yet prepared (the job log's segment).
   * A document is answered only once both succeeded; a failed prepare is retried (or fails
   * the document) as an insert would be; once it succeeded for a document, a retry does not
   * run it again.
   */
  prepare?: (docs: T[]) => Promise<void>;
  /**
   * How long a document that finds no insert out may wait for others to join its batch (default
   * 0: only the rest of the turn it came in). For writes nobody waits on, where fewer commands
   * matter more than sooner. Under load the insert out is the wait, as without it; a full batch,
   * or an insert marked `now`, goes out without waiting.
   */
  lingerMs?: number;
  /** A further insert goes out beside one in flight only when at least this many documents wait (default 1). */
  overlapFrom?: number;
}

interface Pending<T> {
  doc: T;
  queuedAt: number;
  /** Queued while an insert was out: that insert was its wait, so its batch does not linger. */
  queuedBehind: boolean;
  prepared: boolean;
  firstTriedAt: number | undefined;
  attempts: number;
  resolve: (outcome: InsertOutcome) => void;
  reject: (error: unknown) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class InsertBatcher<T extends Document & { _id: string }> {
  private readonly collection: Collection<T>;
  private readonly options: InsertBatcherOptions<T>;
  private queue: Pending<T>[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** The timer of a batch waiting for more documents (lingerMs). */
  private lingering: NodeJS.Timeout | undefined;
  /** An insert marked `now` is queued: the next batch does not linger. */
  private urgent = false;

  constructor(collection: Collection<T>, options: InsertBatcherOptions<T>) {
    this.collection = collection;
    this.options = options;
  }

  /** Queues `doc` for the next batch; `now`: someone waits for it, so its batch does not linger. */
  insert(doc: T, options: { now?: boolean } = {}): Promise<InsertOutcome> {
    return new Promise<InsertOutcome>((resolve, reject) => {
      this.queue.push({
        doc,
        queuedAt: Date.now(),
        queuedBehind: this.inFlight > 0,
        prepared: false,
        firstTriedAt: undefined,
        attempts: 0,
        resolve,
        reject,
      });
      if (options.now === true) this.urgent = true;
      this.schedule();
    });
  }

  /**
   * Queues `docs` as `insert` would each, with one promise for all of them: each document's
   * fate in order, an error in its place instead of a rejection. For callers with many
   * documents in hand (a batch's records), which would otherwise hold a promise per document.
   */
  insertAll(
    docs: readonly T[],
    options: { now?: boolean } = {},
  ): Promise<Array<InsertOutcome | { error: unknown }>> {
    return new Promise((resolveAll) => {
      const fates = new Array<InsertOutcome | { error: unknown }>(docs.length);
      let left = docs.length;
      if (left === 0) {
        resolveAll(fates);
        return;
      }
      const settle = (index: number, fate: InsertOutcome | { error: unknown }) => {
        fates[index] = fate;
        left -= 1;
        if (left === 0) resolveAll(fates);
      };
      const queuedAt = Date.now();
      const queuedBehind = this.inFlight > 0;
      docs.forEach((doc, index) => {
        this.queue.push({
          doc,
          queuedAt,
          queuedBehind,
          prepared: false,
          firstTriedAt: undefined,
          attempts: 0,
          resolve: (outcome) => settle(index, outcome),
          reject: (error) => settle(index, { error }),
        });
      });
      if (options.now === true) this.urgent = true;
      this.schedule();
    });
  }

  /** How much longer the next batch may wait for more documents (<= 0: none). */
  private lingerLeftMs(): number {
    const lingerMs = this.options.lingerMs ?? 0;
    const oldest = this.queue[0];
    if (lingerMs === 0 || oldest === undefined || oldest.queuedBehind || this.urgent) return 0;
    if (this.queue.length >= this.options.maxBatch) return 0;
    // The oldest waits lingerMs at most; a retried batch (queued long ago) goes at once.
    return oldest.queuedAt + lingerMs - Date.now();
  }

  /** Whether another insert may go out now. */
  private mayStart(): boolean {
    if (this.queue.length === 0 || this.inFlight >= this.options.maxInFlight) return false;
    return this.inFlight === 0 || this.queue.length >= (this.options.overlapFrom ?? 1);
  }

  private schedule(): void {
    if (!this.mayStart()) return;
    const lingerMs = this.lingerLeftMs();
    if (lingerMs > 0) {
      if (this.scheduled || this.lingering !== undefined) return;
      this.lingering = setTimeout(() => {
        this.lingering = undefined;
        this.schedule();
      }, lingerMs);
      return;
    }
    clearTimeout(this.lingering);
    this.lingering = undefined;
    if (this.scheduled) return;
    this.scheduled = true;
    // One macrotask of slack lets every request that arrived in this turn join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.urgent = false;
      while (this.mayStart()) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        this.inFlight += 1;
        void this.write(batch).finally(() => {
          this.inFlight -= 1;
          this.schedule();
        });
      }
    });
  }

  private lastInsertError: unknown;

  /** One insertMany of the batch; each item's fate goes into `fate` (never throws). */
  private async insertBatch(
    batch: Pending<T>[],
    fate: Map<Pending<T>, InsertOutcome | 'retry' | { error: unknown }>,
  ): Promise<void> {
    try {
      await this.collection.insertMany(
        batch.map((item) => item.doc as OptionalUnlessRequiredId<T>),
        { ordered: false },
      );
      for (const item of batch) fate.set(item, 'inserted');
    } catch (error: unknown) {
      this.lastInsertError = error;
      const writeErrors =
        error instanceof MongoBulkWriteError && error.writeErrors !== undefined
          ? [error.writeErrors].flat()
          : [];
      // A MongoBulkWriteError with no write errors failed as a whole (e.g. "Topology is
      // closed"): nothing was inserted, so it must not fall through to "inserted" below.
      if (writeErrors.length > 0) {
        const failedAt = new Map(writeErrors.map((e) => [e.index, e]));
        batch.forEach((item, index) => {
          const writeError = failedAt.get(index);
          if (writeError === undefined) fate.set(item, 'inserted');
          else if (writeError.code === DUPLICATE_KEY) fate.set(item, 'duplicate');
          else if (isDatabaseLocked(writeError.code, writeError.errmsg ?? '')) fate.set(item, 'retry');
          else fate.set(item, { error });
        });
      } else if (
        isTransientStoreError(error) ||
        isStoreUnavailable(error) ||
        error instanceof MongoBulkWriteError
      ) {
        // A bulk error that names no document failed as a whole (the driver wraps network
        // and server-selection failures this way): nothing can be assumed written.
        for (const item of batch) fate.set(item, 'retry');
      } else {
        for (const item of batch) fate.set(item, { error });
      }
    }
  }

  private async write(batch: Pending<T>[]): Promise<void> {
    const now = Date.now();
    for (const item of batch) {
      item.firstTriedAt ??= now;
      item.attempts += 1;
    }
    const retry: Pending<T>[] = [];
    let retryCause: unknown;
    /** Each item's fate from the insert, settled below once the prepare step is known too. */
    const fate = new Map<Pending<T>, InsertOutcome | 'retry' | { error: unknown }>();
    const unprepared = this.options.prepare ? batch.filter((item) => !item.prepared) : [];
    // The prepare step goes out beside the insert, not before it: one round trip per batch.
    // Until both succeeded for an item, it is not answered (a failed prepare is retried; its
    // insert, tried again, answers duplicate).
    const preparing =
      this.options.prepare && unprepared.length > 0
        ? this.options.prepare(unprepared.map((item) => item.doc))
        : Promise.resolve();
    const [prepared] = await Promise.allSettled([preparing, this.insertBatch(batch, fate)]);
    if (prepared.status === 'fulfilled') for (const item of unprepared) item.prepared = true;
    const prepareTransient =
      prepared.status === 'rejected' &&
      (isTransientStoreError(prepared.reason) || isStoreUnavailable(prepared.reason));
    for (const item of batch) {
      const result = fate.get(item) ?? 'retry';
      if (result === 'retry') {
        retry.push(item);
        retryCause ??= this.lastInsertError;
      } else if (typeof result === 'object') {
        item.reject(result.error);
      } else if (!item.prepared && prepared.status === 'rejected') {
        if (prepareTransient) {
          retry.push(item);
          retryCause = prepared.reason;
        } else item.reject(prepared.reason);
      } else {
        item.resolve(result);
      }
    }
    if (retry.length === 0) return;
    this.options.onRetry?.(retryCause);
    const deadlineReached = retry.filter(
      (item) => Date.now() - (item.firstTriedAt ?? now) >= this.options.retryForMs,
    );
    for (const item of deadlineReached) {
      item.reject(
        new StoreUnavailableError('MongoDB did not accept the write in time', { cause: retryCause }),
      );
    }
    const again = retry.filter((item) => !deadlineReached.includes(item));
    if (again.length === 0) return;
    const attempts = Math.max(...again.map((item) => item.attempts));
    await sleep(Math.min(1000, 25 * 2 ** Math.min(attempts, 6)) * (0.5 + Math.random() / 2));
    // Back at the front: they are the oldest.
    this.queue.unshift(...again);
  }
}
