/**
 * The soak's system of real processes: beanstalkd (binlog, fsync before every answer),
 * FerretDB (or mongod) on a kept data dir, several managers on fixed ports, several workers,
 * each worker talking to beanstalkd through its own TCP proxy (test/support/harness.ts) so its
 * connections can be cut. Every process can be killed, restarted on the same port and data,
 * stopped and continued. Workers log at debug level, managers at info; in memory only the lines
 * that end a run are kept (test/support/job-runs.ts), with their time, so that memory stays flat
 * over a long run; every line goes to a file per process under `logDir`, for the story of a job
 * that fails the check (forensics.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  type WriteStream,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeFlagsFor } from '../../src/local/node-flags.js';
import {
  freePort,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../../src/local/servers.js';
import { startTcpProxy, type TcpProxy } from '../../test/support/harness.js';
import { RUN_ENDINGS } from '../../test/support/job-runs.js';

const cli = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'dist', 'index.js');

export type Role = 'manager' | 'worker';
export type Ending = keyof typeof RUN_ENDINGS;

/** A finished run of a job's handler, from a worker's log line. */
export interface RunLine {
  jobId: string;
  ending: Ending;
  attempt: number;
  /** When the line was logged (ms since the epoch). */
  time: number;
  /** Which process instance (Cluster.instances index). */
  instance: number;
}

/** One process of a role, from its start to its end; a restart is a new instance. */
export interface Instance {
  role: Role;
  slot: number;
  child: ChildProcess;
  pid: number;
  startedAt: number;
  endedAt?: number;
  /** [ms since the epoch, RSS in MB] every sample. */
  rss: Array<[number, number]>;
  /** Error-level log lines (level ≥ 50), the last 20. */
  errors: string[];
  exited: Promise<void>;
  /** Every line the process wrote, as written. */
  logFile: string;
}

const ENDING_OF = new Map<string, Ending>(
  Object.entries(RUN_ENDINGS).map(([ending, msg]) => [msg, ending as Ending]),
);

export interface ClusterOptions {
  managers: number;
  workers: number;
  ttrSeconds: number;
}

export class Cluster {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'dw-soak-'));
  /** One file of log lines per process started. */
  readonly logDir = join(this.dataDir, 'logs');
  private readonly logStreams: WriteStream[] = [];
  readonly dbName = 'soak';
  beanstalkd!: LocalServer;
  store!: LocalServer & { url: string };
  beanstalkPort = 0;
  storePort = 0;
  readonly managerPorts: number[] = [];
  readonly proxies: TcpProxy[] = [];
  /** Every process ever started, in order. */
  readonly instances: Instance[] = [];
  readonly current = { manager: [] as Instance[], worker: [] as Instance[] };
  readonly runs: RunLine[] = [];
  /** Warning lines by role, message and error message (digits as N): how often each. */
  readonly warnings = new Map<string, number>();
  /** Jobs a manager's reconciler put in beanstalkd again, with its log line. */
  readonly requeued = new Map<string, string>();

  constructor(readonly options: ClusterOptions) {}

  get storeUrl(): string {
    return `mongodb://127.0.0.1:${this.storePort}`;
  }

  managerUrl(slot: number): string {
    return `http://127.0.0.1:${this.managerPorts[slot]}`;
  }

  private env(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      BEANSTALK_HOST: '127.0.0.1',
      BEANSTALK_PORT: String(this.beanstalkPort),
      MONGO_URL: this.storeUrl,
      MONGO_DB: this.dbName,
      // The driver's own log (MONGODB_LOG_TOPOLOGY=debug, MONGODB_LOG_PATH=stderr, …), when
      // asked for: what a process's MongoDB client did around a fault.
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k, v]) => k.startsWith('MONGODB_LOG_') && v),
      ),
    } as Record<string, string>;
  }

  async start(): Promise<void> {
    this.beanstalkd = await this.startBeanstalkd();
    this.beanstalkPort = this.beanstalkd.port;
    this.store = await startMongoServer({ dataDir: join(this.dataDir, 'store') });
    this.storePort = this.store.port;
    for (let i = 0; i < this.options.managers; i += 1) this.managerPorts.push(await freePort());
    for (let i = 0; i < this.options.workers; i += 1)
      this.proxies.push(await startTcpProxy(this.beanstalkPort));
    await Promise.all(this.managerPorts.map((_, slot) => this.startManager(slot)));
    for (let slot = 0; slot < this.options.workers; slot += 1) this.startWorker(slot);
  }

  private startBeanstalkd(port?: number): Promise<LocalServer> {
    return startBeanstalkd({
      ...(port ? { port } : {}),
      binlogDir: join(this.dataDir, 'binlog'),
      fsyncMs: 0,
    });
  }

  private spawnRole(role: Role, slot: number, env: Record<string, string>): Instance {
    const child = spawn(process.execPath, [...nodeFlagsFor(role), cli, role], {
      env: { ...this.env(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const index = this.instances.length;
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${role}-${slot}-${child.pid ?? index}.log`);
    const log = createWriteStream(logFile);
    this.logStreams.push(log);
    const instance: Instance = {
      logFile,
      role,
      slot,
      child,
      pid: child.pid ?? 0,
      startedAt: Date.now(),
      rss: [],
      errors: [],
      exited: new Promise((done) => child.once('exit', () => done())),
    };
    void instance.exited.then(() => {
      instance.endedAt = Date.now();
    });
    const onLine = (line: string) => {
      log.write(`${line}\n`);
      // Cheap filters first: a worker at debug level writes several lines per job.
      if (line.includes('"level":5') || line.includes('"level":6')) {
        instance.errors.push(line.slice(0, 600));
        if (instance.errors.length > 20) instance.errors.shift();
      }
      if (line.includes('"level":40')) {
        const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? '?';
        const err = /"message":"([^"]{0,120})/.exec(line)?.[1];
        const key = `${role}: ${msg}${err ? ` (${err.replace(/\d+/g, 'N')})` : ''}`;
        this.warnings.set(key, (this.warnings.get(key) ?? 0) + 1);
      }
      if (role === 'manager' && line.includes('re-queued')) {
        const jobId = /"jobId":"([^"]+)"/.exec(line)?.[1];
        if (jobId) this.requeued.set(jobId, `manager ${slot} (pid ${instance.pid}): ${line.slice(0, 400)}`);
      }
      if (role !== 'worker' || !line.includes('"jobId"')) return;
      const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
      const ending = msg === undefined ? undefined : ENDING_OF.get(msg);
      if (ending === undefined) return;
      try {
        const record = JSON.parse(line) as { jobId?: unknown; attempt?: unknown; time?: unknown };
        if (typeof record.jobId !== 'string') return;
        this.runs.push({
          jobId: record.jobId,
          ending,
          attempt: Number(record.attempt),
          time: Number(record.time) || Date.now(),
          instance: index,
        });
      } catch {
        // Not a JSON line.
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        const parts = (rest + chunk.toString()).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) onLine(line);
      });
    }
    this.instances.push(instance);
    this.current[role][slot] = instance;
    return instance;
  }

  /** Managers run with the default reconciler settings (a pass every 10 s, 15 s of grace). */
  async startManager(slot: number): Promise<Instance> {
    const instance = this.spawnRole('manager', slot, {
      // Info: a put sent twice or a ref that never landed is said at info, and a lost job's
      // story needs it (forensics.ts); managers log nothing per request at info.
      LOG_LEVEL: 'info',
      MANAGER_LISTEN_PORT: String(this.managerPorts[slot]),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      JOB_TTR_SECONDS: String(this.options.ttrSeconds),
    });
    await waitForPort(this.managerPorts[slot]!, 20_000, instance.child);
    return instance;
  }

  startWorker(slot: number): Instance {
    return this.spawnRole('worker', slot, {
      LOG_LEVEL: 'debug',
      BEANSTALK_PORT: String(this.proxies[slot]!.port),
      WORKER_NAME: `soak-w${slot}-${Date.now() % 100_000}`,
      WORKER_CONCURRENCY: '4',
      WORKER_WORK_DELAY_MS: '5-25',
      WORKER_RETRY_BASE_MS: '200',
    });
  }

  /** SIGKILL the process in a slot and wait for it to be gone. */
  async kill(role: Role, slot: number): Promise<void> {
    const instance = this.current[role][slot];
    if (!instance || instance.endedAt !== undefined) return;
    instance.child.kill('SIGKILL');
    await instance.exited;
  }

  async restart(role: Role, slot: number): Promise<void> {
    if (role === 'manager') await this.startManager(slot);
    else this.startWorker(slot);
  }

  signal(role: Role, slot: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.current[role][slot]?.child.kill(signal);
  }

  cutWorker(slot: number): void {
    this.proxies[slot]?.cutAll();
  }

  async killBeanstalkd(): Promise<void> {
    await this.beanstalkd.kill();
  }

  async restartBeanstalkd(): Promise<void> {
    this.beanstalkd = await this.startBeanstalkd(this.beanstalkPort);
  }

  async killStore(): Promise<void> {
    await this.store.kill();
  }

  async restartStore(): Promise<void> {
    this.store = await startMongoServer({ port: this.storePort, dataDir: join(this.dataDir, 'store') });
  }

  signalStore(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.store.process.kill(signal);
  }

  /** One RSS sample of every live manager and worker. */
  sampleRss(): void {
    const now = Date.now();
    for (const instance of [...this.current.manager, ...this.current.worker]) {
      if (!instance || instance.endedAt !== undefined) continue;
      try {
        const status = readFileSync(`/proc/${instance.pid}/status`, 'utf8');
        const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
        if (Number.isFinite(kb)) instance.rss.push([now, kb / 1024]);
      } catch {
        // Gone between the check and the read.
      }
    }
  }

  /** Every logged line that names one of `ids`, by id, oldest process first, prefixed with it. */
  async linesNaming(ids: readonly string[]): Promise<Map<string, string[]>> {
    await this.flushLogs();
    const found = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const instance of this.instances) {
      let text: string;
      try {
        text = readFileSync(instance.logFile, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        for (const id of ids) {
          if (line.includes(id))
            found.get(id)?.push(`${instance.role} ${instance.slot} (pid ${instance.pid}): ${line}`);
        }
      }
    }
    return found;
  }

  /** Resolves once every line written so far is in its file (a write's callback comes in order). */
  private flushLogs(): Promise<unknown> {
    return Promise.all(
      this.logStreams.filter((s) => !s.closed).map((s) => new Promise((done) => s.write('', done))),
    );
  }

  /** Every process's log file, copied into `dir` (kept when the run failed). */
  async copyLogs(dir: string): Promise<void> {
    await this.flushLogs();
    cpSync(this.logDir, dir, { recursive: true });
  }

  /** Every process we started that may still run, for a last-resort SIGKILL. */
  pids(): number[] {
    const servers = [this.beanstalkd?.process, this.store?.process].filter(Boolean) as ChildProcess[];
    return [
      ...this.instances.filter((i) => i.endedAt === undefined).map((i) => i.pid),
      ...servers.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid ?? 0),
    ].filter((pid) => pid > 0);
  }

  /** Workers stop gracefully (their last lines are in), the rest is killed; the data dir goes. */
  async stop(): Promise<void> {
    for (const instance of this.instances) if (instance.endedAt === undefined) instance.child.kill('SIGCONT');
    this.store?.process.kill('SIGCONT');
    const workers = this.current.worker.filter((w) => w && w.endedAt === undefined);
    for (const worker of workers) worker.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const worker of workers) worker.child.kill('SIGKILL');
    }, 15_000);
    await Promise.all(workers.map((w) => w.exited));
    clearTimeout(timer);
    for (const instance of this.instances) if (instance.endedAt === undefined) instance.child.kill('SIGKILL');
    await Promise.all(this.instances.map((i) => i.exited));
    await Promise.all(this.proxies.map((proxy) => proxy.close()));
    await this.beanstalkd?.stop();
    await this.store?.stop();
    await Promise.all(this.logStreams.map((stream) => new Promise((done) => stream.end(done))));
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
