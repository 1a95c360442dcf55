/**
 * What a worker tells the event stream about a job while it runs: that it started, and the
 * progress its handler reports (`context.progress(percent, data?)`). Both ride the tally's next
 * completion notice (jobs/tally.ts), which managers follow; progress is also written to the
 * job's `progress` document for GET — by `_id`, at most once per PROGRESS_EVERY_MS per job,
 * the latest value winning, never on the outcome path and never awaited by the handler.
 */
import type { HandlerContext } from '../../handlers/index.js';
import type { Envelope } from '../../jobs/envelope.js';
import type { Tally } from '../../jobs/tally.js';
import type { Logger } from '../../log.js';
import type { Progress } from '../../store/index.js';

/** Progress of one job is written (and noticed) at most this often; the latest value wins. */
export const PROGRESS_EVERY_MS = 1000;
/** Largest `data` a handler may pass with its progress, as JSON. */
export const PROGRESS_DATA_BYTES = 1024;

/** What a handler calls: `percent` 0–100, `data` small JSON (see PROGRESS_DATA_BYTES). */
export type ReportProgress = HandlerContext['progress'];

export interface JobEvents {
  /** The job's run begins (after its checks, before its handler). */
  started(envelope: Envelope, attempt: number): void;
  /** The progress function for this run's handler. */
  progressFor(envelope: Envelope, attempt: number): ReportProgress;
  /** The run ended: a progress write still waiting for its turn is dropped. */
  ended(jobId: string): void;
}

interface Pending {
  percent: number;
  data?: unknown;
  timer?: NodeJS.Timeout;
  lastAt: number;
}

/** Checks what a handler passed; a bad value is the handler's bug, thrown back at it. */
function checkProgress(percent: unknown, data: unknown): { percent: number; data?: unknown } {
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100)
    throw new RangeError('progress(percent): percent must be a number from 0 to 100');
  if (data === undefined) return { percent };
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch {
    text = undefined;
  }
  if (text === undefined || Buffer.byteLength(text) > PROGRESS_DATA_BYTES)
    throw new RangeError(
      `progress(percent, data): data must be JSON of at most ${PROGRESS_DATA_BYTES} bytes`,
    );
  // Stored and sent as this JSON's value: no class instances, no undefined members.
  return { percent, data: JSON.parse(text) as unknown };
}

export function createJobEvents(deps: {
  tally: Pick<Tally, 'noteEvent'>;
  store: Pick<Progress, 'saveProgress'>;
  log: Logger;
  everyMs?: number;
}): JobEvents {
  const everyMs = deps.everyMs ?? PROGRESS_EVERY_MS;
  const pending = new Map<string, Pending>();
  /** Jobs whose run is on: progress reported after its run ended is ignored. */
  const running = new Set<string>();
  let failing = false;

  const flush = (envelope: Envelope, attempt: number, entry: Pending) => {
    entry.timer = undefined;
    entry.lastAt = Date.now();
    const at = new Date(entry.lastAt);
    const data = entry.data === undefined ? {} : { data: entry.data };
    deps.tally.noteEvent({
      id: envelope.id,
      kind: 'progress',
      at,
      type: envelope.type,
      ...(envelope.group !== undefined ? { group: envelope.group } : {}),
      attempt,
      percent: entry.percent,
      ...data,
    });
    deps.store
      .saveProgress({ _id: envelope.id, percent: entry.percent, ...data, attempt, at })
      .then(() => {
        if (failing) deps.log.info('job progress stored again');
        failing = false;
      })
      .catch((error: unknown) => {
        if (!failing) deps.log.warn({ err: error }, 'could not store job progress; it goes on without');
        failing = true;
      });
  };

  return {
    started(envelope, attempt) {
      deps.tally.noteEvent({
        id: envelope.id,
        kind: 'started',
        at: new Date(),
        type: envelope.type,
        ...(envelope.group !== undefined ? { group: envelope.group } : {}),
        attempt,
      });
    },

    progressFor(envelope, attempt) {
      running.add(envelope.id);
      return (percent, data) => {
        const value = checkProgress(percent, data);
        if (!running.has(envelope.id)) return;
        const entry = pending.get(envelope.id) ?? { percent: 0, lastAt: 0 };
        pending.set(envelope.id, entry);
        entry.percent = value.percent;
        if ('data' in value) entry.data = value.data;
        else delete entry.data;
        if (entry.timer) return;
        const wait = entry.lastAt + everyMs - Date.now();
        if (wait <= 0) flush(envelope, attempt, entry);
        else {
          entry.timer = setTimeout(() => flush(envelope, attempt, entry), wait);
          entry.timer.unref();
        }
      };
    },

    ended(jobId) {
      running.delete(jobId);
      clearTimeout(pending.get(jobId)?.timer);
      pending.delete(jobId);
    },
  };
}
