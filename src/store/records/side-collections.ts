/**
 * Small collections off the hot path, where updates and deletes are fine: the failed-attempt
 * log, idempotency keys and leases.
 */
import type { Collection } from 'mongodb';
import type { AttemptDocument, AttemptEntry, IdempotencyDocument, LeaseDocument } from '../documents.js';
import { guard } from '../driver/guard.js';
import { isDuplicateKey } from '../errors.js';

/** Failed runs kept per job (a job retried by hand again and again keeps its latest). */
const MAX_ATTEMPTS_KEPT = 100;

/** A key taken for us, or the job it names and the hash of the request it came with (absent on old keys). */
export type IdempotencyClaim = { claimed: true } | { claimed: false; jobId: string; request?: string };

export function sideCollections(collections: {
  attempts: Collection<AttemptDocument>;
  idempotency: Collection<IdempotencyDocument>;
  leases: Collection<LeaseDocument>;
}) {
  const { attempts, idempotency, leases } = collections;
  return {
    /**
     * Keeps one failed run's error for the job's history: an upsert by the job's id. Two
     * upserts creating the same document at once: the loser sees a duplicate key and appends
     * to the winner's document.
     */
    async recordAttempt(jobId: string, entry: AttemptEntry): Promise<void> {
      const append = () =>
        attempts.updateOne(
          { _id: jobId },
          { $push: { list: { $each: [entry], $slice: -MAX_ATTEMPTS_KEPT } } },
          { upsert: true },
        );
      await guard('record attempt', async () => {
        try {
          await append();
        } catch (error: unknown) {
          if (!isDuplicateKey(error)) throw error;
          await append();
        }
      });
    },

    /** A job's failed runs, oldest first (one point read). */
    async findAttempts(jobId: string): Promise<AttemptEntry[]> {
      const doc = await guard('find attempts', () => attempts.findOne({ _id: jobId }));
      return doc?.list ?? [];
    },

    /**
     * Claims `keyHash` for `jobId`, remembering the hash of the request it came with. When the
     * key is already held by an unexpired claim, answers the job it names and that claim's
     * request hash (one point read by `_id`); an expired claim is replaced.
     */
    async claimIdempotencyKey(
      keyHash: string,
      jobId: string,
      now: Date,
      ttlMs: number,
      requestHash?: string,
    ): Promise<IdempotencyClaim> {
      const doc: IdempotencyDocument = {
        _id: keyHash,
        jobId,
        ...(requestHash !== undefined ? { request: requestHash } : {}),
        createdAt: now,
        expiresAt: new Date(now.getTime() + ttlMs),
      };
      for (let round = 0; round < 3; round += 1) {
        try {
          await guard('claim idempotency key', () => idempotency.insertOne(doc));
          return { claimed: true };
        } catch (error: unknown) {
          if (!isDuplicateKey(error)) throw error;
        }
        const held = await guard('read idempotency key', () => idempotency.findOne({ _id: keyHash }));
        if (held && held.expiresAt > now) {
          return {
            claimed: false,
            jobId: held.jobId,
            ...(held.request !== undefined ? { request: held.request } : {}),
          };
        }
        // Expired: drop it by `_id` (a filter on expiresAt too would scan on FerretDB). Two
        // clients reusing one expired key in the same instant could both get a new job.
        await guard('drop expired idempotency key', () => idempotency.deleteOne({ _id: keyHash }));
      }
      throw new Error('idempotency key kept changing under us');
    },

    /** Gives a key back when the job it was claimed for could not be accepted. */
    async releaseIdempotencyKey(keyHash: string, jobId: string): Promise<void> {
      const held = await guard('read idempotency key', () => idempotency.findOne({ _id: keyHash }));
      if (held?.jobId === jobId)
        await guard('release idempotency key', () => idempotency.deleteOne({ _id: keyHash }));
    },

    /**
     * Removes a key that still names `jobId` once it has expired (or at once with `now`
     * omitted: its job is being removed); true if it went. Found through the job log.
     */
    async sweepIdempotencyKey(keyHash: string, jobId: string, now?: Date): Promise<boolean> {
      const held = await guard('read idempotency key', () => idempotency.findOne({ _id: keyHash }));
      if (held?.jobId !== jobId || (now !== undefined && held.expiresAt > now)) return false;
      await guard('sweep idempotency key', () => idempotency.deleteOne({ _id: keyHash }));
      return true;
    },

    /**
     * True when `holder` holds the lease `name` now. A lease is a run of terms of `termMs`
     * (term t: from t·termMs on), one document per term, `<name>@<t>`, taken by an **insert**:
     * the unique `_id` gives each term one holder on every server. (A conditional update would
     * not: FerretDB's do not exclude each other, docs/facts.md.) The holder takes the next term
     * in the second half of its own, so it keeps the lease while it passes often enough; when it
     * dies, its terms run out and whoever asks next takes the current one. Every manager must use
     * the same `termMs`.
     */
    async acquireLease(name: string, holder: string, now: Date, termMs: number): Promise<boolean> {
      const term = Math.floor(now.getTime() / termMs);
      /** Who holds term `t`: us if our insert made it. */
      const take = async (t: number): Promise<string | undefined> => {
        const doc: LeaseDocument = { _id: `${name}@${t}`, holder, expiresAt: new Date((t + 1) * termMs) };
        try {
          await guard('take lease', () => leases.insertOne(doc));
          return holder;
        } catch (error: unknown) {
          if (!isDuplicateKey(error)) throw error;
          return (await guard('read lease', () => leases.findOne({ _id: doc._id })))?.holder;
        }
      };
      if ((await take(term)) !== holder) return false;
      if (now.getTime() >= (term + 1) * termMs - termMs / 2) await take(term + 1);
      // Terms long past: one point delete by `_id` a pass keeps the collection small.
      await guard('drop old lease', () => leases.deleteOne({ _id: `${name}@${term - 2}` }));
      return true;
    },

    /** Gives back the terms `holder` holds now and next, so another manager may take over at once. */
    async releaseLease(name: string, holder: string, now: Date, termMs: number): Promise<void> {
      const term = Math.floor(now.getTime() / termMs);
      for (const t of [term, term + 1]) {
        const id = `${name}@${t}`;
        const held = await guard('read lease', () => leases.findOne({ _id: id }));
        if (held?.holder === holder) await guard('release lease', () => leases.deleteOne({ _id: id }));
      }
    },
  };
}
