/**
 * The only code that talks to MongoDB. The hot path only inserts (coalesced); point reads
 * serve GETs; the one delete undoes a job record whose put failed.
 */
import { type Collection, type Db, MongoClient } from 'mongodb';
import type { JobDocument, QueueRefDocument, ResultDocument } from './documents.js';
import { isStoreUnavailable, isTransientStoreError, StoreUnavailableError } from './errors.js';
import { InsertBatcher, type InsertOutcome } from './insert-batcher.js';
import { type ObserveStore, observeMethods } from './observe.js';
import { keepConnecting } from './reconnect.js';

export interface StoreOptions {
  url: string;
  dbName: string;
  /** Bound on one operation, server selection included. */
  timeoutMs: number;
  /** How long inserts keep retrying transient failures before giving up. */
  insertRetryMs: number;
  maxBatch?: number;
  onRetry?: (error: unknown) => void;
}

export interface Store extends ObserveStore {
  /** Records an accepted job. */
  insertJob(doc: JobDocument): Promise<void>;
  /** Records where a job was put. */
  insertQueueRef(doc: QueueRefDocument): Promise<void>;
  /** Stores a job's one outcome; `duplicate` means an outcome was already stored (not an error). */
  saveResult(doc: ResultDocument): Promise<InsertOutcome>;
  findJob(id: string): Promise<JobDocument | null>;
  findResult(id: string): Promise<ResultDocument | null>;
  findQueueRef(id: string): Promise<QueueRefDocument | null>;
  /** Removes a job record whose put failed (compensation; off the hot path). */
  deleteJob(id: string): Promise<void>;
  ensureIndexes(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Runs a driver call and turns "could not reach the server" into StoreUnavailableError. */
async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error: unknown) {
    if (isStoreUnavailable(error)) throw error;
    if (isTransientStoreError(error))
      throw new StoreUnavailableError(`MongoDB unavailable (${what})`, { cause: error });
    throw error;
  }
}

export function createStore(options: StoreOptions): Store {
  const client = new MongoClient(options.url, {
    serverSelectionTimeoutMS: Math.min(options.timeoutMs, 2000),
    connectTimeoutMS: Math.min(options.timeoutMs, 2000),
    socketTimeoutMS: options.timeoutMs,
    waitQueueTimeoutMS: options.timeoutMs,
    maxPoolSize: 20,
    // Inserts are retried by the batcher; reads by the client.
    retryWrites: false,
  });
  const stopConnecting = keepConnecting(client);
  const db: Db = client.db(options.dbName);
  const jobs: Collection<JobDocument> = db.collection('jobs');
  const refs: Collection<QueueRefDocument> = db.collection('queue_refs');
  const results: Collection<ResultDocument> = db.collection('results');
  const batcherOptions = {
    maxBatch: options.maxBatch ?? 500,
    maxInFlight: 2,
    retryForMs: options.insertRetryMs,
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  };
  const jobInserts = new InsertBatcher(jobs, batcherOptions);
  const refInserts = new InsertBatcher(refs, batcherOptions);
  const resultInserts = new InsertBatcher(results, batcherOptions);

  return {
    async insertJob(doc) {
      // A duplicate can only be our own earlier attempt landing: ids are fresh UUIDv7s.
      await guard('insert job', () => jobInserts.insert(doc));
    },
    async insertQueueRef(doc) {
      await guard('insert queue ref', () => refInserts.insert(doc));
    },
    saveResult(doc) {
      return guard('save result', () => resultInserts.insert(doc));
    },
    findJob(id) {
      return guard('find job', () => jobs.findOne({ _id: id }));
    },
    findResult(id) {
      return guard('find result', () => results.findOne({ _id: id }));
    },
    findQueueRef(id) {
      return guard('find queue ref', () => refs.findOne({ _id: id }));
    },
    async deleteJob(id) {
      await guard('delete job', () => jobs.deleteOne({ _id: id }));
    },
    async ensureIndexes() {
      await guard('create indexes', () => jobs.createIndex({ createdAt: -1 }, { name: 'createdAt' }));
    },
    async ping() {
      await guard('ping', () => db.command({ ping: 1 }));
    },
    async close() {
      stopConnecting();
      await client.close();
    },
    ...observeMethods(db, guard, options.timeoutMs),
  };
}
