/**
 * `distributed-workers load`: posts `count` jobs to a manager with bounded concurrency and an
 * optional rate, waits until every accepted job has an outcome, and reports accepted,
 * completed and failed counts with POST and end-to-end latency percentiles.
 *
 * Following 10,000 jobs one GET at a time would cost 10,000 point reads, each a full scan on
 * FerretDB (docs/facts.md, "FerretDB"). Instead the wait asks POST /jobs/outcomes for the ids
 * still open, a few thousand per request (one store query each), and only once posting is
 * over. End-to-end latency is an outcome's finishedAt (the worker's clock) minus when the POST
 * was sent (this machine's clock): keep the clocks in sync when they are different machines.
 *
 * With an API key every request carries `Authorization: Bearer <key>`; the key is never
 * printed, and a 401 ends the run at once with a message that says how to send one.
 */
import { randomBytes } from 'node:crypto';
import cliProgress from 'cli-progress';
import { spread } from './percentiles.js';
import type { LoadSummary } from './summary.js';

export interface LoadOptions {
  /** The manager, e.g. http://127.0.0.1:8080 */
  url: string;
  count: number;
  concurrency: number;
  /** Jobs per second; 0 for as fast as they are taken. */
  rate: number;
  mode: 'single' | 'batch';
  /** Jobs per request in batch mode. */
  batchSize: number;
  /** How long to wait for outcomes after posting, in ms. */
  waitTimeoutMs: number;
  /** Draw a progress bar on stderr (only where stderr is a terminal). */
  progress: boolean;
  /** Sent as `Authorization: Bearer <key>` on every request when not empty; never printed. */
  apiKey?: string;
}

/** A run that cannot start or go on (bad target, missing endpoint): the message says why. */
export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}

/** Ids per POST /jobs/outcomes: one store query each, kept well inside MONGO_TIMEOUT_MS. */
const LOOKUP_CHUNK = 2_000;

interface Sent {
  sentAtMs: number;
}

interface OutcomeAnswer {
  outcomes: Array<{ id: string; state: string; finishedAt: string }>;
  unfinished: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function progressBar(enabled: boolean) {
  if (!enabled || !process.stderr.isTTY) return undefined;
  return new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{phase} [{bar}] {value}/{total} | {speed}/s | {duration}s',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
}

/** The request headers that carry the API key, if there is one. */
function authHeaders(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

/** Why a 401 came back, in words that name the way to fix it (and never the key). */
function unauthorized(base: string, apiKey: string | undefined): LoadError {
  return new LoadError(
    apiKey
      ? `the manager at ${base} refused the API key (HTTP 401): check API_KEY or --api-key against its API_KEYS`
      : `the manager at ${base} wants an API key (HTTP 401): set API_KEY or pass --api-key`,
  );
}

async function ensureBatchRoute(base: string, apiKey: string | undefined): Promise<void> {
  let paths: Record<string, Record<string, unknown>> | undefined;
  let status = 0;
  try {
    const res = await fetch(`${base}/openapi.json`, { headers: authHeaders(apiKey) });
    status = res.status;
    if (res.ok) paths = ((await res.json()) as { paths?: typeof paths }).paths;
  } catch {
    // Reported below like a missing route.
  }
  if (status === 401) throw unauthorized(base, apiKey);
  if (!paths?.['/jobs/batch']?.post) {
    throw new LoadError(
      `--mode batch needs POST /jobs/batch, which the manager at ${base} does not serve (its /openapi.json does not list it; it comes with the Job API). Use --mode single.`,
    );
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const base = options.url.replace(/\/+$/, '');
  const auth = authHeaders(options.apiKey);
  if (options.mode === 'batch') await ensureBatchRoute(base, options.apiKey);
  const run = randomBytes(4).toString('hex');
  const sent = new Map<string, Sent>();
  const rejected: Record<string, number> = {};
  const postLatencies: number[] = [];
  const reject = (status: string, n = 1) => {
    rejected[status] = (rejected[status] ?? 0) + n;
  };
  const bar = progressBar(options.progress);
  const started = performance.now();
  const intervalMs = options.rate > 0 ? 1000 / options.rate : 0;
  const perRequest = options.mode === 'batch' ? options.batchSize : 1;
  let next = 0;
  let done = 0;
  /** Set by the first 401: every later request would be refused too, so the run ends. */
  let refused: LoadError | undefined;
  bar?.start(options.count, 0, { phase: 'posting  ', speed: 0 });

  const post = async (first: number, size: number) => {
    const bodies = Array.from({ length: size }, (_, i) => JSON.stringify({ load: run, n: first + i }));
    const sentAtMs = Date.now();
    const t0 = performance.now();
    try {
      const res = await fetch(`${base}${options.mode === 'batch' ? '/jobs/batch' : '/jobs'}`, {
        method: 'POST',
        headers: {
          ...auth,
          'Content-Type': options.mode === 'batch' ? 'application/x-ndjson' : 'application/json',
        },
        body: options.mode === 'batch' ? bodies.join('\n') : bodies[0]!,
      });
      const answer: unknown = await res.json().catch(() => undefined);
      postLatencies.push(performance.now() - t0);
      if (res.status === 401) refused ??= unauthorized(base, options.apiKey);
      // 207: a batch of which some items were accepted (each item says which).
      if (res.status !== 202 && res.status !== 200 && res.status !== 207) {
        reject(String(res.status), size);
        return;
      }
      const list = Array.isArray(answer)
        ? answer
        : ((answer as { jobs?: unknown[] } | undefined)?.jobs ?? [answer]);
      for (const item of list) {
        const id = (item as { id?: unknown } | undefined)?.id;
        if (typeof id === 'string') sent.set(id.toLowerCase(), { sentAtMs });
      }
      if (list.length < size) reject('no id in answer', size - list.length);
    } catch {
      postLatencies.push(performance.now() - t0);
      reject('error', size);
    }
  };

  await Promise.all(
    Array.from({ length: Math.max(1, options.concurrency) }, async () => {
      while (next < options.count && !refused) {
        const first = next;
        const size = Math.min(perRequest, options.count - first);
        next += size;
        if (intervalMs > 0) {
          const due = started + first * intervalMs;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
        }
        await post(first, size);
        done += size;
        bar?.update(done, { speed: Math.round(done / ((performance.now() - started) / 1000)) });
      }
    }),
  );
  if (refused) {
    bar?.stop();
    throw refused;
  }
  const postSeconds = (performance.now() - started) / 1000;

  // Wait for every accepted job's outcome, asking only about the ones still open.
  const open = new Set(sent.keys());
  const endToEnd: number[] = [];
  const outcomes = { completed: 0, failed: 0, cancelled: 0 };
  bar?.setTotal(sent.size);
  bar?.update(0, { phase: 'completing' });
  const deadline = Date.now() + options.waitTimeoutMs;
  let lookupFailures = 0;
  while (open.size > 0 && Date.now() < deadline) {
    const round = performance.now();
    const ids = [...open];
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      let answer: OutcomeAnswer;
      try {
        const res = await fetch(`${base}/jobs/outcomes`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ ids: ids.slice(i, i + LOOKUP_CHUNK) }),
        });
        if (res.status === 401) throw unauthorized(base, options.apiKey);
        if (res.status === 404 || res.status === 405) {
          throw new LoadError(`the manager at ${base} has no POST /jobs/outcomes (an older version?)`);
        }
        if (!res.ok) throw new Error(`POST /jobs/outcomes answered ${res.status}`);
        answer = (await res.json()) as OutcomeAnswer;
        lookupFailures = 0;
      } catch (error: unknown) {
        if (error instanceof LoadError) throw error;
        // A busy store may time out now and then: try again next round, give up after a few.
        lookupFailures += 1;
        if (lookupFailures >= 5) throw new LoadError(`cannot read outcomes: ${String(error)}`);
        continue;
      }
      for (const outcome of answer.outcomes) {
        const entry = sent.get(outcome.id);
        if (!entry || !open.delete(outcome.id)) continue;
        if (outcome.state === 'completed') outcomes.completed += 1;
        else if (outcome.state === 'failed') outcomes.failed += 1;
        else outcomes.cancelled += 1;
        endToEnd.push(Date.parse(outcome.finishedAt) - entry.sentAtMs);
      }
      bar?.update(sent.size - open.size, {
        speed: Math.round((sent.size - open.size) / ((performance.now() - started) / 1000)),
      });
    }
    if (open.size > 0) await sleep(Math.max(500, Math.min(5_000, performance.now() - round)));
  }
  bar?.stop();

  return {
    url: base,
    mode: options.mode,
    count: options.count,
    concurrency: options.concurrency,
    rate: options.rate,
    accepted: sent.size,
    rejected,
    ...outcomes,
    unfinished: open.size,
    postSeconds,
    totalSeconds: (performance.now() - started) / 1000,
    postLatencyMs: spread(postLatencies),
    endToEndMs: spread(endToEnd),
  };
}
