/**
 * Real beanstalkd and FerretDB (or mongod) as child processes on free ports with temporary
 * data directories: the test harness and the local demo both run the system on these.
 * scripts/install-backends.sh installs what is missing first.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_INSERT_BATCH } from '../store/index.js';

// src/local/ when run from source, dist/src/local/ when built.
const here = dirname(fileURLToPath(import.meta.url));
const projectRoots = [resolve(here, '..', '..'), resolve(here, '..', '..', '..')];

export interface LocalServer {
  readonly name: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its data dir unless kept. */
  stop(): Promise<void>;
  /** SIGKILL, keeping the data dir (a crash). */
  kill(): Promise<void>;
}

export function cacheDir(): string {
  return (
    process.env.DW_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'distributed-workers')
  );
}

/** ferretdbBinary's answer per cache dir: asking the script costs a bash process. */
const binaries = new Map<string, string>();

/**
 * Where our build of FerretDB is cached: with scripts/ferretdb/*.patch (collections created
 * atomically; reads by `_id` use the index; SQLite compiled from C; writes queue in Go, one at a
 * time, and those that waited commit together; no leak tracking; deletes by `_id` together).
 * install-backends.sh names it by what makes it (version, recipe, patches) and is asked here,
 * so that the two never disagree and a binary of another build is never run. Builds nothing.
 */
export function ferretdbBinary(): string {
  const dir = cacheDir();
  let binary = binaries.get(dir);
  if (binary === undefined) {
    binary = execFileSync('bash', [findScript(), '--ferretdb-name'], {
      encoding: 'utf8',
      env: { ...process.env, DW_CACHE_DIR: dir },
    }).trim();
    binaries.set(dir, binary);
  }
  return binary;
}

function findScript(): string {
  for (const root of projectRoots) {
    const path = join(root, 'scripts', 'install-backends.sh');
    if (existsSync(path)) return path;
  }
  throw new Error('scripts/install-backends.sh not found');
}

/** Installs beanstalkd and builds FerretDB when they are missing (needs apt-get and Go). */
export function installBackends(): void {
  execFileSync('bash', [findScript()], { stdio: ['ignore', 'inherit', 'inherit'] });
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null)
      throw new Error(`process exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((done) => {
      const socket = new Socket();
      socket.setTimeout(500);
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
      socket.once('timeout', () => {
        socket.destroy();
        done(false);
      });
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited(child);
  clearTimeout(timer);
}

/** Data dirs of servers started here that their stop() has not removed yet. */
const unremovedDataDirs = new Set<string>();

/**
 * Removes, synchronously, the data dirs that stop() would have removed, for servers not
 * stopped: for an exit handler once their processes are gone (bench/no-orphans.ts).
 */
export function removeUnstoppedDataDirs(): void {
  for (const dir of unremovedDataDirs) rmSync(dir, { recursive: true, force: true });
  unremovedDataDirs.clear();
}

/**
 * Spawns a server, resolves once it listens on `port` (its stderr in the error otherwise).
 * Its environment is ours unless `env` is given.
 */
export async function startProcess(
  name: string,
  command: string,
  args: string[],
  port: number,
  dataDir: string | undefined,
  keepData: boolean,
  ownProcessGroup = false,
  env?: NodeJS.ProcessEnv,
): Promise<LocalServer> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: ownProcessGroup, env });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    await waitForPort(port, 15_000, child);
  } catch (error: unknown) {
    await terminate(child, 'SIGKILL', 1000);
    throw new Error(
      `${name} did not start: ${error instanceof Error ? error.message : String(error)}\n${stderr}`,
    );
  }
  if (dataDir && !keepData) unremovedDataDirs.add(dataDir);
  const cleanup = () => {
    if (dataDir && !keepData) {
      rmSync(dataDir, { recursive: true, force: true });
      unremovedDataDirs.delete(dataDir);
    }
  };
  return {
    name,
    port,
    process: child,
    async stop() {
      await terminate(child, 'SIGTERM', 3000);
      cleanup();
    },
    async kill() {
      await terminate(child, 'SIGKILL', 1000);
    },
  };
}

/**
 * In its own process group, a server does not get the terminal's Ctrl-C: whoever started it
 * stops it, after the processes that still need it (the local stack's orderly shutdown).
 */
export interface ProcessGroupOption {
  ownProcessGroup?: boolean;
}

export interface BeanstalkdOptions extends ProcessGroupOption {
  port?: number;
  /** Binlog directory (durable across restarts); none by default. */
  binlogDir?: string;
  /** -f: fsync interval in ms (0: before every answer). */
  fsyncMs?: number;
  maxJobSize?: number;
}

export async function startBeanstalkd(options: BeanstalkdOptions = {}): Promise<LocalServer> {
  const port = options.port ?? (await freePort());
  const binary = existsSync('/usr/bin/beanstalkd') ? '/usr/bin/beanstalkd' : 'beanstalkd';
  const args = ['-l', '127.0.0.1', '-p', String(port)];
  if (options.binlogDir) {
    mkdirSync(options.binlogDir, { recursive: true });
    args.push('-b', options.binlogDir, '-f', String(options.fsyncMs ?? 0));
  }
  if (options.maxJobSize) args.push('-z', String(options.maxJobSize));
  return startProcess('beanstalkd', binary, args, port, undefined, true, options.ownProcessGroup);
}

export interface MongoServerOptions extends ProcessGroupOption {
  port?: number;
  dataDir?: string;
  /**
   * FerretDB's SQLite `synchronous` (WAL mode): `full` (SQLite's default) syncs the WAL at every
   * commit; `normal` only at checkpoints, so a commit survives FerretDB dying but not the
   * machine losing power. The bench's `--store-sync normal`; ignored by mongod.
   */
  sqliteSync?: 'full' | 'normal';
}

/**
 * FerretDB's command line. Two settings beside its defaults, for CPU it need not spend on the
 * inserts that are most of its work here (measured: docs/facts.md, "An insert is cut into
 * transactions of 100"):
 * - `temp_store(memory)`: SQLite keeps a statement's journal (written for every page a
 *   multi-row INSERT first touches, so that the statement alone can be undone) in memory
 *   instead of a temporary file: a seventh of FerretDB's CPU went to those writes;
 * - `--test-batch-size=500`: FerretDB splits an insert into transactions of this many
 *   documents (default 100), each with its own commit and WAL sync; 500 is the store's
 *   largest `insertMany` (store.ts), so one insert is one transaction.
 */
export function ferretdbArgs(
  dataDir: string,
  port: number,
  sqliteSync: 'full' | 'normal' = 'full',
): string[] {
  const pragmas = ['temp_store(memory)', ...(sqliteSync === 'normal' ? ['synchronous(normal)'] : [])];
  return [
    '--handler=sqlite',
    `--sqlite-url=file:${dataDir}/?${pragmas.map((pragma) => `_pragma=${pragma}`).join('&')}`,
    `--listen-addr=127.0.0.1:${port}`,
    `--state-dir=${dataDir}`,
    '--telemetry=disable',
    '--debug-addr=-',
    '--log-level=warn',
    `--test-batch-size=${MAX_INSERT_BATCH}`,
  ];
}

/**
 * FerretDB's environment beside ours: Go's collector runs when the heap has grown by 400 %
 * instead of 100 %. Garbage collection was a tenth of FerretDB's CPU answering point reads;
 * with GOGC=400 its CPU per point read was about a fifth lower and per inserted record about an
 * eighth, for about 20 MB more at its peak (docs/facts.md, "Go's collector"). A GOGC of our
 * own environment wins.
 */
export function ferretdbEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { GOGC: '400', ...env };
}

/** FerretDB with SQLite, or mongod when one is on the PATH. Returns its URL beside the server. */
export async function startMongoServer(
  options: MongoServerOptions = {},
): Promise<LocalServer & { url: string }> {
  const port = options.port ?? (await freePort());
  const keep = options.dataDir !== undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'dw-mongo-'));
  const mongod = whichSync('mongod');
  const server = mongod
    ? await startProcess(
        'mongod',
        mongod,
        ['--bind_ip', '127.0.0.1', '--port', String(port), '--dbpath', dataDir, '--quiet'],
        port,
        dataDir,
        keep,
        options.ownProcessGroup,
      )
    : await startProcess(
        'ferretdb',
        ferretdbBinary(),
        ferretdbArgs(dataDir, port, options.sqliteSync),
        port,
        dataDir,
        keep,
        options.ownProcessGroup,
        ferretdbEnv(),
      );
  return Object.assign(server, { url: `mongodb://127.0.0.1:${port}` });
}

/** The path of `command` on the PATH, if any. */
export function whichSync(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, command);
    if (dir && existsSync(path)) return path;
  }
  return undefined;
}
