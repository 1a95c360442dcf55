/**
 * A whole system of real processes for one fault scenario: its own beanstalkd (binlog,
 * fsync before every answer) and MongoDB-wire server, a manager, workers, a steady stream of
 * POSTs from clients that retry with an Idempotency-Key, and a reader that GETs accepted
 * ids and counts 404s and 503s. Workers log at debug level, one line per finished run
 * (test/support/job-runs.ts); with `watchWorkers` each one talks to beanstalkd through its own
 * proxy that knows which jobs it holds. After the fault and a drain, `drainAndCheck()` reads
 * MongoDB and the workers' lines and says what was lost, stored twice, wrongly stored, wrongly
 * answered, and how often jobs ran.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { hashPayload } from '../../src/handlers/index.js';
import {
  freePort,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../../src/local/servers.js';
import { foldTallies, RETIRE_AFTER_MS, readOutcomeCounts } from '../../src/manager/stats/totals.js';
import { createStore } from '../../src/store/index.js';
import { type SpawnedCli, spawnCli, startTcpProxy, type TcpProxy, waitFor } from '../support/harness.js';
import { jobRuns, type Run, storedBy } from '../support/job-runs.js';
import { ReserveWatch } from './reserve-watch.js';

export interface ScenarioReport {
  scenario: string;
  accepted: number;
  completed: number;
  failedAsExpected: number;
  lost: number;
  /** Jobs whose outcome two runs each inserted: two outcomes for one job. */
  storedTwice: number;
  /** Runs whose handler finished (stored, found stored, not stored, or failed an attempt). */
  runs: number;
  /** Jobs that ran to the end more than once (at-least-once delivery allows it). */
  ranTwice: number;
  /** Accepted jobs no worker logged a finished run of. */
  neverRan: number;
  strays: number;
  notFoundAnswers: number;
  wrongHashes: number;
  recoverySeconds: number;
  /** Outcomes stored, and outcomes counted by the tallies once every tally is folded (GET /stats). */
  stored: number;
  counted: number;
}

export interface RigOptions {
  workers?: number;
  managerEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
  /** beanstalkd servers beyond the first (BEANSTALK_SERVERS), each with its own binlog; not with `watchWorkers`. */
  moreBeanstalkd?: number;
  /** Each worker talks to beanstalkd through its own proxy, which the scenario can cut and ask what the worker holds. */
  watchWorkers?: boolean;
}

/** A worker hit while it held jobs: which, and how often each had been delivered by then. */
export interface Hit {
  worker: SpawnedCli;
  held: string[];
  deliveredBefore: Map<string, number>;
}

export class Rig {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'dw-fault-'));
  beanstalkd!: LocalServer;
  mongo!: LocalServer & { url: string };
  manager!: SpawnedCli;
  /** Every manager process started, the replaced ones too (their log lines). */
  readonly everyManager: SpawnedCli[] = [];
  workers: SpawnedCli[] = [];
  /** Every worker process started, the replaced ones too: their lines are the runs. */
  readonly everyWorker: SpawnedCli[] = [];
  /** With `watchWorkers`, worker i's proxy and what it sees. */
  readonly proxies: Array<{ proxy: TcpProxy; watch: ReserveWatch }> = [];
  managerPort = 0;
  beanstalkPort = 0;
  mongoPort = 0;
  readonly dbName = 'faults';
  /** Accepted job id → the body sent. */
  readonly accepted = new Map<string, string>();
  /** Accepted jobs that are not hash jobs (a group's summary): their result has no hash to check. */
  readonly notHashed = new Set<string>();
  notFoundAnswers = 0;
  /** When a GET of an accepted id answered 503. */
  readonly unavailableAt: number[] = [];
  private loadRunning = false;
  private loadDone: Promise<void> = Promise.resolve();
  private readerDone: Promise<void> = Promise.resolve();
  private sent = 0;

  constructor(private readonly options: RigOptions = {}) {}

  get base(): string {
    return `http://127.0.0.1:${this.managerPort}`;
  }

  /** The servers beyond the first (`moreBeanstalkd`), in BEANSTALK_SERVERS order after it. */
  readonly moreBeanstalkd: LocalServer[] = [];
  readonly moreBeanstalkPorts: number[] = [];

  env(): Record<string, string> {
    const several = this.moreBeanstalkPorts.length > 0;
    return {
      BEANSTALK_HOST: '127.0.0.1',
      BEANSTALK_PORT: String(this.beanstalkPort),
      ...(several
        ? {
            BEANSTALK_SERVERS: [this.beanstalkPort, ...this.moreBeanstalkPorts]
              .map((port) => `127.0.0.1:${port}`)
              .join(','),
          }
        : {}),
      MONGO_URL: `mongodb://127.0.0.1:${this.mongoPort}`,
      MONGO_DB: this.dbName,
      LOG_LEVEL: 'info',
    };
  }

  async start(): Promise<void> {
    this.beanstalkd = await startBeanstalkd({ binlogDir: join(this.dataDir, 'binlog'), fsyncMs: 0 });
    this.beanstalkPort = this.beanstalkd.port;
    for (let i = 0; i < (this.options.moreBeanstalkd ?? 0); i += 1) {
      const server = await startBeanstalkd({ binlogDir: join(this.dataDir, `binlog-${i}`), fsyncMs: 0 });
      this.moreBeanstalkd.push(server);
      this.moreBeanstalkPorts.push(server.port);
    }
    this.mongo = await startMongoServer({ dataDir: join(this.dataDir, 'mongo') });
    this.mongoPort = this.mongo.port;
    this.managerPort = await freePort();
    await this.startManager();
    const workers = this.options.workers ?? 2;
    for (let i = 0; i < workers && this.options.watchWorkers; i += 1) {
      const watch = new ReserveWatch();
      this.proxies.push({ proxy: await startTcpProxy(this.beanstalkPort, watch), watch });
    }
    for (let i = 0; i < workers; i += 1) this.startWorker(i);
  }

  async startManager(): Promise<void> {
    this.manager = spawnCli(['manager'], {
      ...this.env(),
      MANAGER_LISTEN_PORT: String(this.managerPort),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      RECONCILE_INTERVAL_SECONDS: '2',
      RECONCILE_GRACE_SECONDS: '3',
      ...this.options.managerEnv,
    });
    this.everyManager.push(this.manager);
    await waitForPort(this.managerPort, 15_000, this.manager.child);
  }

  startWorker(index: number): SpawnedCli {
    const port = this.proxies[index]?.proxy.port ?? this.beanstalkPort;
    const worker = spawnCli(['worker'], {
      ...this.env(),
      LOG_LEVEL: 'debug',
      BEANSTALK_PORT: String(port),
      WORKER_NAME: `w${index}-${Date.now() % 100_000}`,
      WORKER_CONCURRENCY: '4',
      WORKER_WORK_DELAY_MS: '10-60',
      ...this.options.workerEnv,
    });
    this.workers[index] = worker;
    this.everyWorker.push(worker);
    return worker;
  }

  /**
   * Waits until worker `index` holds a job that `also` accepts (any, by default), then
   * hits it with `fault` at once; says which jobs it held.
   */
  async hitWhileHolding(
    index: number,
    fault: (worker: SpawnedCli) => void | Promise<void>,
    also: (held: string[], worker: SpawnedCli) => boolean = () => true,
  ): Promise<Hit> {
    const { watch } = this.proxies[index] ?? {};
    if (!watch) throw new Error('hitWhileHolding needs watchWorkers');
    const worker = this.workers[index]!;
    // Taken in the same turn as the fault: nothing the proxies pass comes in between.
    const { held, deliveredBefore } = await waitFor(
      `worker ${index} to hold a job`,
      () => {
        const now = watch.held();
        if (now.length === 0 || !also(now, worker)) return undefined;
        return { held: now, deliveredBefore: new Map(now.map((id) => [id, this.deliveries(id)])) };
      },
      20_000,
      5,
    );
    await fault(worker);
    // A delete the worker wrote just before the hit may still have been on its way through
    // the proxy: once the proxy has read what had arrived, a job it let go without being
    // handed out again was not held after all.
    await new Promise((resolve) => setImmediate(resolve));
    const kept = held.filter(
      (id) => !watch.wasLetGo(id) || this.deliveries(id) > (deliveredBefore.get(id) ?? 0),
    );
    return { worker, held: kept, deliveredBefore };
  }

  /** How many times beanstalkd has handed this job to any watched worker. */
  deliveries(jobId: string): number {
    return this.proxies.reduce((sum, { watch }) => sum + watch.deliveries(jobId), 0);
  }

  /** When any watched worker was first handed this job (ms since the epoch), if ever. */
  firstDeliveredAt(jobId: string): number | undefined {
    const times = this.proxies
      .map(({ watch }) => watch.firstDeliveredAt(jobId))
      .filter((t): t is number => t !== undefined);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /** Whether `worker` has logged inserting the outcome of `jobId`. */
  static hasStored(worker: SpawnedCli, jobId: string): boolean {
    return worker.lines.some((line) => line.includes(jobId) && line.includes('"msg":"outcome stored"'));
  }

  /** Every finished run so far, by job id; `process` indexes `everyWorker`. */
  runs(): Map<string, Run[]> {
    return jobRuns(this.everyWorker);
  }

  /**
   * Posts one job until the manager answers 2xx, always under the same Idempotency-Key (a replay
   * is the same job), and notes it as accepted; its id.
   */
  async postUntilAccepted(key: string, body: string, query = ''): Promise<string> {
    const started = Date.now();
    for (;;) {
      try {
        const res = await fetch(`${this.base}/jobs${query}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
          body,
          signal: AbortSignal.timeout(5000),
        });
        if (res.status === 200 || res.status === 202) {
          const { id } = (await res.json()) as { id: string };
          this.accepted.set(id, body);
          return id;
        }
        await res.body?.cancel();
      } catch {
        // Connection refused or reset while the manager is down: retry with the same key.
      }
      if (Date.now() - started > 120_000) throw new Error(`${key} was never accepted`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Posts jobs at about `perSecond` with 8 clients, each retrying its job with its key until accepted. */
  startLoad(perSecond = 60): void {
    this.loadRunning = true;
    const client = async (clientId: number) => {
      while (this.loadRunning) {
        const n = this.sent++;
        const started = Date.now();
        await this.postUntilAccepted(`fault-${n}`, JSON.stringify({ n, client: clientId, at: Date.now() }));
        await new Promise((r) => setTimeout(r, Math.max(0, 8000 / perSecond - (Date.now() - started))));
      }
    };
    this.loadDone = Promise.all(Array.from({ length: 8 }, (_, i) => client(i))).then(() => undefined);
    this.readerDone = (async () => {
      while (this.loadRunning) {
        const ids = [...this.accepted.keys()];
        const id = ids[Math.floor(Math.random() * ids.length)];
        if (id) {
          try {
            const res = await fetch(`${this.base}/jobs/${id}`, { signal: AbortSignal.timeout(5000) });
            if (res.status === 404) this.notFoundAnswers += 1;
            if (res.status === 503) this.unavailableAt.push(Date.now());
            await res.body?.cancel();
          } catch {
            // The manager is down: no answer is not a wrong answer.
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  }

  async stopLoad(): Promise<void> {
    this.loadRunning = false;
    await Promise.all([this.loadDone, this.readerDone]);
  }

  /** Waits until `count` more jobs have been accepted. */
  async acceptMore(count: number, timeoutMs = 60_000): Promise<void> {
    const target = this.accepted.size + count;
    await waitFor(`${count} more accepted jobs`, () => this.accepted.size >= target, timeoutMs, 50);
  }

  async withDb<T>(fn: (db: ReturnType<MongoClient['db']>) => Promise<T>): Promise<T> {
    const client = new MongoClient(`mongodb://127.0.0.1:${this.mongoPort}`, {
      serverSelectionTimeoutMS: 5000,
    });
    try {
      return await fn(client.db(this.dbName));
    } finally {
      await client.close();
    }
  }

  /** Waits until every accepted job has an outcome (or the deadline), then measures. */
  async drainAndCheck(
    scenario: string,
    faultAt: number,
    expectFailed = 0,
    timeoutMs = 120_000,
  ): Promise<ScenarioReport> {
    await this.stopLoad();
    const ids = [...this.accepted.keys()];
    await waitFor(
      'every accepted job to have an outcome',
      async () => {
        const count = await this.withDb((db) =>
          db.collection('results').countDocuments({ _id: { $in: ids as never[] } }),
        );
        return count >= ids.length;
      },
      timeoutMs,
      500,
    ).catch(() => undefined);
    const recoverySeconds = (Date.now() - faultAt) / 1000;
    const results = await this.withDb((db) => db.collection('results').find({}).toArray());
    const seen = new Set(results.map((r) => String(r._id)));
    let completed = 0;
    let failedAsExpected = 0;
    let wrongHashes = 0;
    for (const r of results) {
      const body = this.accepted.get(String(r._id));
      if (body === undefined) continue;
      if (r.outcome === 'completed') {
        completed += 1;
        if (!this.notHashed.has(String(r._id)) && r.result?.hash !== hashPayload(body)) wrongHashes += 1;
      } else if (r.outcome === 'failed') failedAsExpected += 1;
    }
    // A lost job fails the scenario: say where it stands, for whoever reads the failure.
    for (const id of ids.filter((jobId) => !seen.has(jobId)).slice(0, 10)) {
      const view = await fetch(`${this.base}/jobs/${id}`, { signal: AbortSignal.timeout(5000) })
        .then((res) => res.text())
        .catch((error: unknown) => String(error));
      const [record, ref] = await this.withDb((db) =>
        Promise.all([
          db.collection('jobs').findOne({ _id: id as never }, { projection: { payload: 0 } }),
          db.collection('queue_refs').findOne({ _id: id as never }),
        ]),
      );
      process.stderr.write(
        `lost job ${id}: GET ${view}\n  record ${JSON.stringify(record)}\n  queue ref ${JSON.stringify(ref)}\n`,
      );
      // What the workers said about it, for whoever reads the failure.
      const said = this.everyWorker.flatMap((w, i) =>
        w.lines.filter((line) => line.includes(id)).map((line) => `  worker ${i}: ${line}\n`),
      );
      process.stderr.write(said.slice(-20).join(''));
    }
    // The workers stop here: every line of theirs is in once this returns.
    const { stored, counted } = await this.countOutcomes(results.length);
    const runs = this.runs();
    const storedTwice = [...runs.values()].filter((jobRuns) => storedBy(jobRuns) > 1);
    for (const twice of storedTwice.slice(0, 10))
      process.stderr.write(`outcome stored twice: ${JSON.stringify(twice)}\n`);
    return {
      scenario,
      stored,
      counted,
      accepted: ids.length,
      completed,
      failedAsExpected: Math.min(failedAsExpected, expectFailed),
      lost: ids.filter((id) => !seen.has(id)).length + Math.max(0, failedAsExpected - expectFailed),
      storedTwice: storedTwice.length,
      runs: [...runs.values()].reduce((sum, jobRuns) => sum + jobRuns.length, 0),
      ranTwice: [...runs.values()].filter((jobRuns) => jobRuns.length > 1).length,
      neverRan: ids.filter((id) => !runs.has(id)).length,
      strays: results.filter((r) => !this.accepted.has(String(r._id))).length,
      notFoundAnswers: this.notFoundAnswers,
      wrongHashes,
      recoverySeconds: Math.round(recoverySeconds * 10) / 10,
    };
  }

  /**
   * What GET /stats counts once every tally is settled: the manager (whose maintenance folds)
   * is stopped, the workers stop cleanly (their last commit), and one fold runs as if the
   * retirement delay had passed, retiring every tally and deciding every maybe.
   */
  private async countOutcomes(stored: number): Promise<{ stored: number; counted: number }> {
    await this.manager.stop('SIGKILL');
    await Promise.all(this.workers.filter(Boolean).map((w) => w.stop('SIGTERM')));
    const store = createStore({
      url: `mongodb://127.0.0.1:${this.mongoPort}`,
      dbName: this.dbName,
      timeoutMs: 5000,
      insertRetryMs: 5000,
    });
    try {
      await foldTallies(store, new Date(Date.now() + RETIRE_AFTER_MS + 60_000));
      const counts = Object.values(await readOutcomeCounts(store));
      const counted = counts.reduce((sum, c) => sum + c.completed + c.failed + c.cancelled, 0);
      const now = await this.withDb((db) => db.collection('results').countDocuments());
      if (counted !== Math.max(stored, now)) await this.explainCounts();
      return { stored: Math.max(stored, now), counted };
    } finally {
      await store.close();
    }
  }

  /**
   * For whoever reads a count that does not match: the stored outcomes no folded tally and no
   * counted maybe accounts for, what the workers logged about each, and their tally warnings.
   */
  private async explainCounts(): Promise<void> {
    const [results, totals] = await this.withDb((db) =>
      Promise.all([
        db
          .collection('results')
          .find({}, { projection: { payload: 0, result: 0 } })
          .toArray(),
        db.collection('totals').findOne({ _id: 'totals' as never }),
      ]),
    );
    const retired = (totals?.retired ?? {}) as Record<string, { seq: number; unsure?: string[] }>;
    const maybes = (totals?.maybes ?? {}) as Record<string, { decided?: string }>;
    const uncounted = results.filter((r) => {
      const tally = r.tally as { w: string; k: number } | undefined;
      const folded = tally ? retired[tally.w] : undefined;
      const inTally = folded !== undefined && tally !== undefined && folded.seq >= tally.k;
      const unsure = folded?.unsure?.includes(String(r._id)) ?? false;
      return !(inTally && !unsure) && maybes[String(r._id)]?.decided !== 'counted';
    });
    for (const r of uncounted.slice(0, 5)) {
      process.stderr.write(
        `uncounted outcome ${JSON.stringify(r)}; maybe ${JSON.stringify(maybes[String(r._id)])}\n`,
      );
      for (const [i, w] of this.everyWorker.entries())
        for (const line of w.lines.filter((l) => l.includes(String(r._id))).slice(-10))
          process.stderr.write(`  worker ${i}: ${line}\n`);
    }
    for (const [i, w] of this.everyWorker.entries())
      for (const line of w.lines.filter((l) => l.includes('tally')).slice(-10))
        process.stderr.write(`  worker ${i} (tally): ${line}\n`);
  }

  async stop(): Promise<void> {
    this.loadRunning = false;
    await Promise.all([this.manager, ...this.workers].filter(Boolean).map((p) => p.stop('SIGKILL')));
    await Promise.all(this.proxies.map(({ proxy }) => proxy.close()));
    await this.beanstalkd?.stop();
    await Promise.all(this.moreBeanstalkd.map((server) => server.stop()));
    await this.mongo?.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
