#!/usr/bin/env node
/**
 * The entrypoint: the only place that reads process.env and argv, wires the parts together
 * and exits. `manager` and `worker` run the two roles; `up` (alias `demo`) runs a whole local stack.
 */
import { setFlagsFromString } from 'node:v8';
import { config as loadDotenv } from 'dotenv';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError, loadManagerConfig, loadWorkerConfig } from './src/config/config.js';
import { helpText } from './src/config/describe-settings.js';
import { type Role, settingsOf } from './src/config/settings.js';
import { builtinHandlers, loadHandlers, selectTypes } from './src/handlers/index.js';
import { settleHeap } from './src/local/settle-heap.js';
import { createLogger, LOG_LEVELS } from './src/log.js';

// Each command imports its own code when it runs: a worker never loads the manager's HTTP
// stack (Koa, the router, the dashboard, the API document) nor the local stack or the loader,
// which kept about 17 MB more resident in every worker replica (measured at start, 2026-12-07).

// V8 lets the old generation grow to several times the live heap before a full collection,
// and a batch of jobs promotes many short-lived objects: the manager's peak RSS reached 191 MB
// with ~30 MB live. Growing by 30 % at a time keeps it at ~134 MB (`npm run bench`), at no
// measurable cost in throughput. The flag is read at each collection, so setting it here works
// (NODE_OPTIONS does not accept it). The young generation's cap cannot be set here: node gets it
// at start (src/local/node-flags.ts).
setFlagsFromString('--heap-growing-percent=30');

/**
 * A flag per setting of the role, described from its declaration. Flags carry no yargs default
 * or choices: an absent flag leaves the variable (or .env) in charge, and the config module
 * checks every value and reports the bad ones together.
 */
function withSettings(role: Role) {
  return (y: Argv) => {
    let out = y;
    for (const setting of settingsOf(role)) {
      out = out.option(setting.flag, {
        type: setting.kind === 'bool' ? 'boolean' : 'string',
        describe: helpText(setting),
      });
    }
    return out;
  };
}

/** The environment (with .env) overridden by whichever flags were given. */
function environment(role: Role, argv: Record<string, unknown>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const setting of settingsOf(role)) {
    const value = argv[setting.flag];
    if (typeof value === 'string') env[setting.env] = value;
    if (typeof value === 'boolean') env[setting.env] = String(value);
  }
  return env;
}

/** Calls `stop` on SIGTERM/SIGINT; a second signal exits at once. */
function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while stopping: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** The key `load` sends: --api-key, else API_KEY from the environment (or .env); '' for none. */
function apiKeyForLoad(flag: string | undefined): string {
  return flag ?? process.env.API_KEY ?? '';
}

function failConfig(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  await yargs(hideBin(process.argv))
    .scriptName('distributed-workers')
    .usage('$0 <command> [options]\n\nSettings come from the environment, a .env file, then these flags.')
    .command(
      'manager',
      'serve the HTTP API: accept jobs, record them in MongoDB, queue them in beanstalkd',
      withSettings('manager'),
      async (argv) => {
        let config: ReturnType<typeof loadManagerConfig>;
        try {
          config = loadManagerConfig(environment('manager', argv));
        } catch (error: unknown) {
          failConfig(error);
        }
        const log = createLogger(config.logLevel, { role: 'manager' }, { pretty: config.logPretty });
        const { startManager } = await import('./src/manager/start-manager.js');
        const manager = await startManager(config, log);
        onSignals(() => manager.stop());
        settleHeap();
      },
    )
    .command(
      'worker',
      'reserve jobs from beanstalkd, run them, store one outcome each',
      withSettings('worker'),
      async (argv) => {
        let config: ReturnType<typeof loadWorkerConfig>;
        try {
          config = loadWorkerConfig(environment('worker', argv));
        } catch (error: unknown) {
          failConfig(error);
        }
        let handlers = builtinHandlers({ workerName: config.workerName, simulate: config.simulate });
        try {
          if (config.handlersModule !== '') handlers = await loadHandlers(config.handlersModule, handlers);
          handlers = selectTypes(handlers, config.types);
        } catch (error: unknown) {
          process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
          process.exit(1);
        }
        const log = createLogger(config.logLevel, { role: 'worker' }, { pretty: config.logPretty });
        const { startWorker } = await import('./src/worker/worker.js');
        const { startStallWatchdog } = await import('./src/worker/stall-watchdog.js');
        const worker = await startWorker(config, { handlers, log });
        const watchdog = startStallWatchdog({
          limitMs: config.stallExitMs,
          logFields: { role: 'worker', worker: config.workerName },
          onError: (error) => log.warn({ err: error }, 'the stall watchdog failed; it watches no more'),
        });
        const stop = async () => {
          await worker.stop();
          await watchdog.stop();
        };
        onSignals(stop);
        settleHeap();
        void worker.drained.then(async () => {
          await stop();
          process.exit(0);
        });
      },
    )
    .command(
      ['up', 'demo'],
      'the whole system here without Docker: install and start beanstalkd and a MongoDB-wire server, a manager and workers, post sample jobs; Ctrl-C stops it all',
      (y) =>
        y
          .option('port', { type: 'number', default: 8080, describe: 'manager port (0: any free port)' })
          .option('workers', { type: 'number', default: 3, describe: 'worker processes' })
          .option('jobs', { type: 'number', default: 20, describe: 'sample jobs to post (0: none)' })
          .option('log-level', {
            type: 'string',
            choices: LOG_LEVELS,
            default: 'info',
            describe: 'log level of the manager and workers',
          })
          .option('exit-when-done', {
            type: 'boolean',
            default: false,
            describe: 'stop everything once the sample jobs are done',
          })
          .option('mongo-express', {
            type: 'boolean',
            default: true,
            describe:
              'run Mongo Express on a free port (--no-mongo-express: without it); user admin, password MONGO_EXPRESS_PASSWORD or a random one',
          }),
      async (argv) => {
        const { runStack, StackError } = await import('./src/local/stack.js');
        try {
          await runStack({
            port: argv.port,
            workers: argv.workers,
            jobs: argv.jobs,
            logLevel: argv.logLevel,
            exitWhenDone: argv.exitWhenDone,
            cliPath: process.argv[1] ?? 'dist/index.js',
            mongoExpress: argv.mongoExpress,
            ...(process.env.MONGO_EXPRESS_PASSWORD
              ? { mongoExpressPassword: process.env.MONGO_EXPRESS_PASSWORD }
              : {}),
          });
        } catch (error: unknown) {
          if (!(error instanceof StackError)) throw error;
          process.stderr.write(`${error.message}\n`);
          process.exit(1);
        }
      },
    )
    .command(
      'load',
      'post many jobs to a manager, wait until every one completes, print counts and latency percentiles',
      (y) =>
        y
          .option('url', { type: 'string', default: 'http://127.0.0.1:8080', describe: 'the manager' })
          .option('count', { type: 'number', default: 1000, describe: 'jobs to post' })
          .option('concurrency', { type: 'number', default: 16, describe: 'requests in flight at once' })
          .option('rate', { type: 'number', default: 0, describe: 'jobs per second (0: as fast as taken)' })
          .option('mode', {
            choices: ['single', 'batch'] as const,
            default: 'single' as const,
            describe: 'one job per POST /jobs, or batches to POST /jobs/batch (needs that endpoint)',
          })
          .option('batch-size', { type: 'number', default: 100, describe: 'jobs per request in batch mode' })
          .option('wait', {
            type: 'number',
            default: 600,
            describe: 'seconds to wait for outcomes after posting',
          })
          .option('progress', {
            type: 'boolean',
            default: true,
            describe: 'progress bar on stderr (terminals only)',
          })
          .option('json', {
            type: 'boolean',
            default: false,
            describe: 'print the summary as one JSON object',
          })
          // No default shown from the environment: --help must never print the key.
          .option('api-key', {
            type: 'string',
            describe:
              'sent as Authorization: Bearer <key> on every request, for a manager with API_KEYS; never printed [env API_KEY]',
          })
          .check((argv) => {
            for (const name of ['count', 'concurrency', 'batch-size'] as const) {
              const value = argv[name];
              if (!Number.isInteger(value) || value < 1)
                throw new Error(`--${name} must be a whole number from 1`);
            }
            if (!(argv.rate >= 0) || !(argv.wait > 0))
              throw new Error('--rate must be 0 or more, --wait more than 0');
            const key = apiKeyForLoad(argv['api-key']);
            if (key !== '' && !/^[\x21-\x7e]{1,256}$/.test(key))
              throw new Error('--api-key (or API_KEY) must be 1-256 visible ASCII characters');
            return true;
          }),
      async (argv) => {
        const { LoadError, runLoad } = await import('./src/load/run-load.js');
        const { formatSummary, succeeded } = await import('./src/load/summary.js');
        try {
          const summary = await runLoad({
            url: argv.url,
            count: argv.count,
            concurrency: argv.concurrency,
            rate: argv.rate,
            mode: argv.mode,
            batchSize: argv.batchSize,
            waitTimeoutMs: argv.wait * 1000,
            progress: argv.progress,
            apiKey: apiKeyForLoad(argv.apiKey),
          });
          process.stdout.write(`${argv.json ? JSON.stringify(summary) : formatSummary(summary)}\n`);
          process.exitCode = succeeded(summary) ? 0 : 1;
        } catch (error: unknown) {
          if (!(error instanceof LoadError)) throw error;
          process.stderr.write(`load: ${error.message}\n`);
          process.exitCode = 2;
        }
      },
    )
    .demandCommand(1, 'name a command: manager, worker, up or load')
    .strict()
    .help()
    .parseAsync();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
