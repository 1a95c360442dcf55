/**
 * Jobs through a deployed manager (the Swarm stack's published port, the Kubernetes
 * Service's ClusterIP), and the exactly-once check of one scenario:
 * clients POST with an Idempotency-Key and retry it until accepted (a manager or beanstalkd
 * being replaced answers 503 or drops the connection), then the check reads MongoDB's
 * `jobs` and `results` (FerretDB, reached the same way) and POST /jobs/outcomes.
 * Shared by test/swarm/ and test/k8s/.
 */
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { loadManagerConfig } from '../../src/config/config.js';
import { hashPayload } from '../../src/handlers/index.js';
import { waitFor } from './harness.js';

export interface ScenarioRow {
  scenario: string;
  accepted: number;
  completed: number;
  lost: number;
  duplicated: number;
  wrongHashes: number;
  seconds: number;
}

const RUN = Date.now().toString(36);
let apiKey: string | undefined;

/**
 * The key in the deployment's api_keys file, read with the manager's own parser:
 * DW_API_KEYS_FILE when set (scripts/test-k8s.sh), else the one scripts/test-swarm.sh wrote
 * with the stack file's own header lines (DW_SWARM_DIR/secrets).
 */
export function stackApiKey(): string {
  apiKey ??= loadManagerConfig({
    API_KEYS_FILE:
      process.env.DW_API_KEYS_FILE ?? join(process.env.DW_SWARM_DIR ?? '', 'secrets', 'api_keys'),
  }).security.apiKeys[0]?.key;
  if (apiKey === undefined) throw new Error('no API key in the api_keys secret');
  return apiKey;
}

export function authHeaders(): Record<string, string> {
  return { Authorization: `Bearer ${stackApiKey()}`, 'Content-Type': 'application/json' };
}

export class JobFlow {
  /** Accepted job id → the exact body sent. */
  readonly accepted = new Map<string, string>();
  /** Answers that did not come from a manager (see postOne), with when they came. */
  readonly strayAnswers: string[] = [];
  private sent = 0;
  private readonly batches: Array<Promise<void>> = [];
  private failure: unknown;

  /** `bases()` gives the manager URLs to use now; each job goes to one of them in turn. */
  constructor(
    readonly scenario: string,
    private readonly bases: () => string[],
  ) {}

  private async postOne(n: number, query: string): Promise<void> {
    const body = JSON.stringify({ run: RUN, s: this.scenario, n });
    const key = `${RUN}-${this.scenario}-${n}`;
    const started = Date.now();
    /** What the last try got, for the message when the job is never accepted. */
    let last = 'nothing yet';
    for (let attempt = 0; ; attempt += 1) {
      const all = this.bases();
      const base = all[(n + attempt) % all.length];
      try {
        const res = await fetch(`${base}/jobs${query}`, {
          method: 'POST',
          // A retry closes its connection after the answer: a keep-alive connection that
          // reached the wrong server (below) would otherwise be reused for every later try.
          headers: {
            ...authHeaders(),
            'Idempotency-Key': key,
            ...(attempt > 0 ? { connection: 'close' } : {}),
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        if (res.status === 200 || res.status === 201 || res.status === 202) {
          const { id } = (await res.json()) as { id: string };
          this.accepted.set(id, body);
          return;
        }
        // Every manager answer carries its security headers. One without them came from
        // something else on the path: on the Kubernetes test's host, a connection to a
        // ClusterIP that kube-proxy's rules did not catch leaves by the default route, and
        // the machine's egress proxy answers 404 with an empty body and keeps the connection
        // open (fetch would reuse it for every retry: f and g failed so for two minutes
        // after the MongoDB outage). The manager never saw that request, so it is retried
        // with the same key on a new connection, and counted.
        if (res.headers.get('x-content-type-options') !== 'nosniff') {
          this.strayAnswers.push(
            `${new Date().toISOString()} ${res.status} server=${res.headers.get('server')}`,
          );
        } else if (res.status < 500 && res.status !== 429) {
          throw new Error(`POST answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
        }
        last = `${res.status} from ${base}: ${(await res.text()).slice(0, 200)}`;
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('POST answered')) throw error;
        last = `${base}: ${error instanceof Error ? error.message : String(error)}`;
        // Refused, reset or timed out while a task is replaced: retry with the same key.
      }
      if (Date.now() - started > 120_000)
        throw new Error(`${this.scenario}: job ${n} never accepted (last try: ${last})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Starts posting `count` more jobs at about `perSecond` with 8 clients (`query`: job options
   * such as `?delay=40`); `finished()` awaits every batch started.
   */
  start(count: number, perSecond: number, query = ''): void {
    const end = this.sent + count;
    const client = async () => {
      while (this.sent < end) {
        const n = this.sent++;
        const started = Date.now();
        await this.postOne(n, query);
        await new Promise((r) => setTimeout(r, Math.max(0, 8000 / perSecond - (Date.now() - started))));
      }
    };
    this.batches.push(
      Promise.all(Array.from({ length: 8 }, client)).then(
        () => undefined,
        (error: unknown) => {
          this.failure = error;
        },
      ),
    );
  }

  async finished(): Promise<void> {
    await Promise.all(this.batches);
    if (this.failure) throw this.failure;
  }

  /** Resolves once `count` jobs have been accepted in all. */
  async acceptedAtLeast(count: number, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `${this.scenario}: ${count} accepted jobs`,
      () => this.accepted.size >= count || this.failure !== undefined,
      timeoutMs,
      100,
    );
    if (this.failure) throw this.failure;
  }
}

export async function withDb<T>(mongoUrl: string, fn: (db: ReturnType<MongoClient['db']>) => Promise<T>) {
  const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  try {
    return await fn(client.db('distributed_workers'));
  } finally {
    await client.close();
  }
}

/**
 * How many of a scenario's jobs had their copy put on each beanstalkd server, as MongoDB
 * records it: the queue ref when there is one (delayed jobs, copies put again), else the
 * job record's `queue`.
 */
export async function jobsPerServer(mongoUrl: string, scenario: string): Promise<Map<string, number>> {
  const marker = `"s":"${scenario}"`;
  const { jobs, refs } = await withDb(mongoUrl, async (db) => ({
    jobs: await db
      .collection('jobs')
      .find({}, { projection: { _id: 1, payload: 1, queue: 1 } })
      .toArray(),
    refs: await db
      .collection('queue_refs')
      .find({}, { projection: { _id: 1, server: 1 } })
      .toArray(),
  }));
  const refServer = new Map(refs.map((r) => [String(r._id), String(r.server)]));
  const perServer = new Map<string, number>();
  for (const job of jobs) {
    if (typeof job.payload !== 'string' || !job.payload.includes(marker)) continue;
    const queue = job.queue as { server?: string } | undefined;
    const server = refServer.get(String(job._id)) ?? queue?.server ?? 'none';
    perServer.set(server, (perServer.get(server) ?? 0) + 1);
  }
  return perServer;
}

/**
 * POST /jobs/outcomes for `ids`, each try on a connection closed after its answer (see
 * `postOne`: a pooled connection may lead to the egress proxy instead of a manager); an
 * answer not from a manager is tried again, up to five times.
 */
export async function postOutcomes(
  base: string,
  ids: string[],
): Promise<{ outcomes: Array<{ id: string; state: string; worker: string }>; unfinished: string[] }> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const res = await fetch(`${base}/jobs/outcomes`, {
      method: 'POST',
      headers: { ...authHeaders(), connection: 'close' },
      body: JSON.stringify({ ids }),
      signal: AbortSignal.timeout(30_000),
    });
    if (res.status === 200) return (await res.json()) as Awaited<ReturnType<typeof postOutcomes>>;
    last = `${res.status} server=${res.headers.get('server')}`;
    if (res.headers.get('x-content-type-options') === 'nosniff') break;
    await res.arrayBuffer();
  }
  throw new Error(`POST /jobs/outcomes answered ${last}`);
}

/** POST /jobs/outcomes in chunks of 10,000: id → state, and the unfinished ids. */
export async function outcomesOf(base: string, ids: string[]) {
  const states = new Map<string, { state: string; worker: string }>();
  const unfinished: string[] = [];
  for (let i = 0; i < ids.length; i += 10_000) {
    const view = await postOutcomes(base, ids.slice(i, i + 10_000));
    for (const o of view.outcomes) states.set(o.id, { state: o.state, worker: o.worker });
    unfinished.push(...view.unfinished);
  }
  return { states, unfinished };
}

/**
 * Waits until every accepted job has an outcome (or the deadline), then counts: completed
 * with the right hash, lost (no completed outcome), duplicated (a second job recorded for one
 * client request, or a second outcome), on MongoDB and on /jobs/outcomes, which must agree.
 */
export async function drainAndCheck(
  flow: JobFlow,
  base: string,
  mongoUrl: string,
  startedAt: number,
  timeoutMs = 180_000,
): Promise<ScenarioRow & { workers: Map<string, number> }> {
  await flow.finished();
  const ids = [...flow.accepted.keys()];
  await waitFor(
    `${flow.scenario}: every accepted job to have an outcome`,
    async () => (await outcomesOf(base, ids)).unfinished.length === 0,
    timeoutMs,
    1000,
  ).catch(() => undefined);
  const seconds = Math.round((Date.now() - startedAt) / 100) / 10;
  const { results, jobs } = await withDb(mongoUrl, async (db) => ({
    results: await db
      .collection('results')
      .find({}, { projection: { _id: 1, outcome: 1, result: 1, worker: 1 } })
      .toArray(),
    jobs: await db
      .collection('jobs')
      .find({}, { projection: { _id: 1, payload: 1 } })
      .toArray(),
  }));
  const marker = `"s":"${flow.scenario}"`;
  const ourJobs = jobs.filter((j) => typeof j.payload === 'string' && j.payload.includes(marker));
  const jobsPerBody = new Map<string, number>();
  for (const j of ourJobs)
    jobsPerBody.set(j.payload as string, (jobsPerBody.get(j.payload as string) ?? 0) + 1);
  const resultsPerId = new Map<string, number>();
  for (const r of results) resultsPerId.set(String(r._id), (resultsPerId.get(String(r._id)) ?? 0) + 1);

  let completed = 0;
  let wrongHashes = 0;
  const workers = new Map<string, number>();
  for (const r of results) {
    const body = flow.accepted.get(String(r._id));
    if (body === undefined || r.outcome !== 'completed') continue;
    completed += 1;
    if (r.result?.hash !== hashPayload(body)) wrongHashes += 1;
    // The worker field is host:pid:slot; in a container the host is the container id.
    const host = String(r.worker).split(':')[0] ?? '';
    workers.set(host, (workers.get(host) ?? 0) + 1);
  }
  const api = await outcomesOf(base, ids);
  const apiCompleted = ids.filter((id) => api.states.get(id)?.state === 'completed').length;
  if (apiCompleted !== completed) {
    throw new Error(`${flow.scenario}: /jobs/outcomes says ${apiCompleted} completed, MongoDB ${completed}`);
  }
  return {
    scenario: flow.scenario,
    accepted: ids.length,
    completed,
    lost: ids.length - completed,
    duplicated:
      [...resultsPerId.values()].filter((n) => n > 1).length +
      [...jobsPerBody.values()].filter((n) => n > 1).length,
    wrongHashes,
    seconds,
    workers,
  };
}

export function formatTable(rows: ScenarioRow[]): string {
  const header = ['scenario', 'accepted', 'completed', 'lost', 'duplicated', 'seconds'];
  const lines = rows.map((r) =>
    [r.scenario, r.accepted, r.completed, r.lost, r.duplicated, r.seconds.toFixed(1)].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}
