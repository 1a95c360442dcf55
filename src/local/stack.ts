/**
 * `distributed-workers up` (`npm run stack`): the whole system on this machine without
 * Docker. Installs beanstalkd, FerretDB and Mongo Express when missing, starts them with
 * temporary data, then a manager and N workers as child processes with prefixed, readable
 * logs; posts sample jobs and follows them; prints where everything is. Ctrl-C (or SIGTERM,
 * SIGHUP) stops workers first, then the manager, then Mongo Express, MongoDB and beanstalkd,
 * and removes the data.
 *
 * Every child runs in its own process group, so a terminal's Ctrl-C reaches only this
 * process, which then stops the others in order: workers still finishing a job need MongoDB
 * and beanstalkd until they are done. A manager or worker that exits on its own is started
 * again, as an orchestrator would (restart-delay.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipePrefixed } from './child-logs.js';
import {
  installMongoExpress,
  MONGO_EXPRESS_VERSION,
  type MongoExpressServer,
  mongoExpressDocumentUrl,
  mongoExpressInstalled,
  startMongoExpress,
} from './mongo-express.js';
import { nodeFlagsFor } from './node-flags.js';
import { nextRestartDelayMs, type RestartHistory } from './restart-delay.js';
import { type PostedJob, postSampleJobs, sampleProgress } from './sample-jobs.js';
import {
  freePort,
  installBackends,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from './servers.js';
import { watchStopSignals } from './stop-signals.js';

export interface StackOptions {
  /** Manager port; 0 picks a free one. */
  port: number;
  workers: number;
  /** Sample jobs to post once everything is up (0: none). */
  jobs: number;
  /** Stop everything once the sample jobs are done (for tests); otherwise run until Ctrl-C. */
  exitWhenDone: boolean;
  /** LOG_LEVEL of the manager and workers. */
  logLevel: string;
  /** The built CLI the children run (dist/index.js). */
  cliPath: string;
  /** Run Mongo Express beside MongoDB (installed from npm on first use). */
  mongoExpress: boolean;
  /** Its basic-auth password (MONGO_EXPRESS_PASSWORD); random per run when absent. */
  mongoExpressPassword?: string;
}

/** A problem the user can fix (busy port, sample jobs not done): shown without a stack trace. */
export class StackError extends Error {
  override readonly name = 'StackError';
}

const SAMPLE_DEADLINE_MS = 120_000;
const CHILD_STOP_MS = 15_000;

// When our own output goes away (the terminal closed, a pipe such as `| tee` ended on
// Ctrl-C), writing to it fails with EPIPE: stop writing, but go on stopping the children.
let outputClosed = false;
const markOutputClosed = () => {
  outputClosed = true;
};
const write = (text: string) => {
  if (!outputClosed) process.stdout.write(text);
};
const say = (line = '') => write(`${line}\n`);

interface NodeChild {
  name: string;
  /** The current process: a restart replaces it. */
  process: ChildProcess;
  /** Settles when the current process has exited and its output is read. */
  exited: Promise<void>;
  /** Set while a restart waits. */
  restartTimer?: NodeJS.Timeout;
}

async function ensurePortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', () =>
      reject(new StackError(`port ${port} is in use: pass --port N, or --port 0 for any free port`)),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

async function stopChild(child: NodeChild): Promise<void> {
  clearTimeout(child.restartTimer);
  const { process: proc } = child;
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), CHILD_STOP_MS);
    await child.exited;
    clearTimeout(timer);
  }
}

export async function runStack(options: StackOptions): Promise<void> {
  process.stdout.on('error', markOutputClosed);
  const dataDir = mkdtempSync(join(tmpdir(), 'dw-stack-'));
  const servers: LocalServer[] = [];
  const children: NodeChild[] = [];
  let stopping = false;
  const stopSignals = watchStopSignals({
    onFirst: (signal) => say(`\n${signal}: stopping (again to kill everything at once)`),
    onForce: (signal) => {
      say(`${signal} again: killing everything now`);
      process.exit(130); // killLeftovers runs on exit
    },
  });
  // Last resort if this process ends without the orderly stop (an uncaught error, exit()):
  // no child may outlive it. Synchronous, as 'exit' handlers must be.
  const killLeftovers = () => {
    for (const proc of [...children.map((c) => c.process), ...servers.map((s) => s.process)]) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('exit', killLeftovers);

  /** Spawns one run of a child; `onExit` hears of its end unless the stack is stopping. */
  const spawnChild = (
    name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    onExit: (ranMs: number, how: string) => void,
  ): Pick<NodeChild, 'process' | 'exited'> => {
    const proc = spawn(process.execPath, [...nodeFlagsFor(args[0]), options.cliPath, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const startedAt = Date.now();
    pipePrefixed(proc.stdout, name, write);
    pipePrefixed(proc.stderr, name, write);
    // 'close', not 'exit': the child's last log lines are printed before the next one stops.
    const exited = new Promise<void>((resolve) =>
      proc.once('close', (code, signal) => {
        resolve();
        if (!stopping) onExit(Date.now() - startedAt, signal ?? `code ${code}`);
      }),
    );
    return { process: proc, exited };
  };
  const startChild = (name: string, args: string[], env: NodeJS.ProcessEnv): NodeChild => {
    const restarts: RestartHistory = { shortRunsInARow: 0 };
    const onExit = (ranMs: number, how: string) => {
      const waitMs = nextRestartDelayMs(restarts, ranMs);
      say(`[${name}] exited unexpectedly (${how}); starting it again in ${waitMs / 1000} s`);
      child.restartTimer = setTimeout(() => {
        child.restartTimer = undefined;
        if (stopping) return;
        Object.assign(child, spawnChild(name, args, env, onExit));
        say(`[${name}] started again as process ${child.process.pid}`);
      }, waitMs);
    };
    const child: NodeChild = { name, ...spawnChild(name, args, env, onExit) };
    children.push(child);
    return child;
  };

  try {
    say('distributed-workers up: checking beanstalkd and FerretDB (installed on first run)...');
    installBackends();
    if (options.mongoExpress && !mongoExpressInstalled()) {
      say(`installing Mongo Express ${MONGO_EXPRESS_VERSION} from npm (once, about 15 s)...`);
      try {
        await installMongoExpress();
      } catch (error: unknown) {
        if (stopSignals.requested) return;
        throw new StackError(
          `${error instanceof Error ? error.message : String(error)}\npass --no-mongo-express to run without it`,
        );
      }
    }
    if (options.port !== 0) await ensurePortFree(options.port);
    if (stopSignals.requested) return;

    const binlogDir = join(dataDir, 'beanstalkd');
    const mongoDir = join(dataDir, 'mongo');
    mkdirSync(binlogDir);
    mkdirSync(mongoDir);
    const beanstalkd = await startBeanstalkd({ binlogDir, fsyncMs: 0, ownProcessGroup: true });
    servers.push(beanstalkd);
    const mongo = await startMongoServer({ dataDir: mongoDir, ownProcessGroup: true });
    servers.push(mongo);
    if (stopSignals.requested) return;

    const port = options.port === 0 ? await freePort() : options.port;
    const dbName = 'distributed_workers';
    const mongoUrl = `${mongo.url}/${dbName}`;
    let mongoExpress: MongoExpressServer | undefined;
    if (options.mongoExpress) {
      mongoExpress = await startMongoExpress({
        mongoUrl,
        ...(options.mongoExpressPassword ? { password: options.mongoExpressPassword } : {}),
        ownProcessGroup: true,
        env: process.env,
      });
      servers.push(mongoExpress);
      if (stopSignals.requested) return;
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BEANSTALK_HOST: '127.0.0.1',
      BEANSTALK_PORT: String(beanstalkd.port),
      MONGO_URL: mongoUrl,
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      WORKER_WORK_DELAY_MS: process.env.WORKER_WORK_DELAY_MS ?? '200-1500',
      LOG_LEVEL: options.logLevel,
    };
    const manager = startChild('manager', ['manager'], env);
    await Promise.race([waitForPort(port, 15_000, manager.process), stopSignals.stopped]);
    if (stopSignals.requested) return;
    for (let i = 1; i <= options.workers; i += 1)
      startChild(`worker-${i}`, ['worker', '--name', `worker-${i}`], env);

    const base = `http://127.0.0.1:${port}`;
    say('');
    say(`distributed-workers is up (data in ${dataDir}, removed on exit):`);
    say(`  dashboard   ${base}/ui/   open it in a browser: jobs, workers, throughput, pause, retry`);
    say(`  manager     ${base}/   POST a JSON job to / or /jobs, GET /jobs/<id>`);
    say(`  health      ${base}/healthz   ${base}/readyz`);
    say(`  beanstalkd  127.0.0.1:${beanstalkd.port}   binlog with fsync on every write, tube hash`);
    say(
      `  MongoDB     ${mongoUrl}   (${mongo.name}) jobs, results, job_log, … (docs/architecture.md: Data model)`,
    );
    if (mongoExpress) {
      // The password is printed only when this run made it up: a given one stays unsaid.
      const password = options.mongoExpressPassword
        ? 'the one in MONGO_EXPRESS_PASSWORD'
        : `${mongoExpress.password} (random, this run only)`;
      say(
        `  browse it   ${mongoExpress.url}db/${dbName}/   Mongo Express, user ${mongoExpress.user}, password ${password}`,
      );
    } else {
      say(`  browse it   npx mongosh ${mongoUrl}   (Mongo Express is off: --no-mongo-express)`);
    }
    say(
      `  workers     ${options.workers} processes, each job sleeps ${env.WORKER_WORK_DELAY_MS} ms to look like work`,
    );
    say(
      `  processes   ${[...servers.map((s) => `${s.name} ${s.process.pid}`), ...children.map((c) => `${c.name} ${c.process.pid}`)].join(', ')}`,
    );
    say('');

    let posted: PostedJob[] = [];
    let completed = 0;
    if (options.jobs > 0) {
      say(`posting ${options.jobs} sample jobs...`);
      posted = await postSampleJobs(base, options.jobs);
      const deadline = Date.now() + SAMPLE_DEADLINE_MS;
      while (!stopSignals.requested && Date.now() < deadline) {
        await Promise.race([new Promise((r) => setTimeout(r, 500)), stopSignals.stopped]);
        if (stopSignals.requested) break;
        const progress = await sampleProgress(base, posted);
        completed = progress.completed;
        say(`  ${progress.completed}/${posted.length} completed, ${progress.running} running`);
        if (completed === posted.length) {
          say(
            `all ${completed} completed; ${progress.wrongHashes === 0 ? 'every hash is the MD5 of its payload' : `${progress.wrongHashes} hashes WRONG`}`,
          );
          break;
        }
      }
    }
    if (stopSignals.requested) return;

    const first = posted[0];
    say('');
    say('Where to look:');
    if (first) say(`  curl -s ${base}/jobs/${first.id}   # a sample job: state, result`);
    if (first && mongoExpress)
      say(
        `  ${mongoExpressDocumentUrl(mongoExpress.url, dbName, 'results', first.id)}   # its result in Mongo Express`,
      );
    say(`  curl -s -X POST -H 'Content-Type: application/json' -d '{"example":"data"}' ${base}/`);
    say(`  curl -s ${base}/readyz   # beanstalkd and MongoDB reachable?`);
    if (options.exitWhenDone) {
      if (completed !== posted.length)
        throw new StackError(`only ${completed} of ${posted.length} sample jobs completed`);
      return;
    }
    say('');
    say('Running until Ctrl-C.');
    await stopSignals.stopped;
  } finally {
    stopping = true;
    const started = servers.length + children.length > 0;
    if (started) say('stopping: workers, then the manager, then Mongo Express, MongoDB and beanstalkd...');
    const workers = children.filter((child) => child.name !== 'manager');
    await Promise.all(workers.map(stopChild));
    await Promise.all(children.filter((child) => child.name === 'manager').map(stopChild));
    for (const server of [...servers].reverse()) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    process.off('exit', killLeftovers);
    process.stdout.off('error', markOutputClosed);
    stopSignals.dispose();
    if (started) say('stopped; no process of the stack is left running');
  }
}
