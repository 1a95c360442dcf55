/**
 * Mocha global fixtures: one real beanstalkd and one real MongoDB-wire server for the whole
 * run (installed when missing), unless BEANSTALK_HOST / MONGO_URL point at running ones.
 * Tests isolate themselves with their own tube prefix and database (see harness.ts).
 */
import { ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import {
  installBackends,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
} from '../../src/local/servers.js';

const started: LocalServer[] = [];

export async function mochaGlobalSetup(): Promise<void> {
  const needBeanstalkd = !process.env.BEANSTALK_HOST;
  const needMongo = !process.env.MONGO_URL;
  if (needBeanstalkd || needMongo) installBackends();
  if (needBeanstalkd) {
    const beanstalkd = await startBeanstalkd();
    started.push(beanstalkd);
    process.env.DW_TEST_BEANSTALK_HOST = '127.0.0.1';
    process.env.DW_TEST_BEANSTALK_PORT = String(beanstalkd.port);
  } else {
    process.env.DW_TEST_BEANSTALK_HOST = process.env.BEANSTALK_HOST;
    process.env.DW_TEST_BEANSTALK_PORT = process.env.BEANSTALK_PORT ?? '11300';
  }
  if (needMongo) {
    const mongo = await startMongoServer();
    started.push(mongo);
    process.env.DW_TEST_MONGO_URL = mongo.url;
  } else {
    process.env.DW_TEST_MONGO_URL = process.env.MONGO_URL;
  }
  // The code under test must only see what each test gives it.
  for (const name of ['BEANSTALK_HOST', 'BEANSTALK_PORT', 'MONGO_URL']) delete process.env[name];
}

export async function mochaGlobalTeardown(): Promise<void> {
  for (const server of started.reverse()) await server.stop();
  // Node 20 can spin forever in its own exit-time cleanup once the event loop is empty
  // (FreeEnvironment -> CleanupHandles -> uv_run at 100 % CPU, no child, no handle of ours;
  // seen twice here right after the last test, `perf record -p PID`). process.exit() does not
  // take that path: leave from beforeExit, which only fires when nothing keeps the loop alive.
  // Mocha's own exit listener still sets the exit code from the failures.
  process.once('beforeExit', () => process.exit());
  // Watchdog: mocha runs without --exit, so anything left open keeps the run from ending. Once
  // the tests are over, name what is still open; a child process left running fails the run
  // (that is a test's bug), other handles are reported and the run ends with the tests' status.
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles();
    const children = handles.filter((h): h is ChildProcess => h instanceof ChildProcess);
    process.stderr.write(
      `\nstill open 15 s after the last test: ${JSON.stringify(process.getActiveResourcesInfo())}\n`,
    );
    for (const handle of handles) {
      const what =
        handle instanceof ChildProcess
          ? `child process ${handle.pid}: ${handle.spawnargs.join(' ')}`
          : handle instanceof Socket
            ? `socket ${handle.localPort ?? ''} -> ${handle.remoteAddress ?? ''}:${handle.remotePort ?? ''}`
            : handle.constructor.name;
      process.stderr.write(`  ${what}\n`);
    }
    if (children.length > 0) {
      for (const child of children) child.kill('SIGKILL');
      // Registered after mocha's own exit listener, so it has the last word.
      process.on('exit', () => {
        process.exitCode = 1;
      });
    }
    process.exit();
  }, 15_000).unref();
}
