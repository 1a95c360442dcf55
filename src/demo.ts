/**
 * `distributed-workers demo`: the whole system on this machine with no Docker — installs
 * beanstalkd and FerretDB when missing, starts them with temporary data, a manager and
 * workers as real processes, posts sample jobs, shows them complete, and says where to look.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPayload } from './handlers/index.js';
import {
  freePort,
  installBackends,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from './local/servers.js';

export interface DemoOptions {
  port: number;
  workers: number;
  jobs: number;
  /** Stop everything once the sample jobs are done (for tests); otherwise run until Ctrl-C. */
  exitWhenDone?: boolean;
}

const say = (line = '') => process.stdout.write(`${line}\n`);

export async function runDemo(options: DemoOptions): Promise<void> {
  say('distributed-workers demo: checking beanstalkd and FerretDB (installed on first run)...');
  installBackends();
  const dataDir = mkdtempSync(join(tmpdir(), 'dw-demo-'));
  const servers: LocalServer[] = [];
  const children: ChildProcess[] = [];
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
          }),
      ),
    );
    for (const server of servers.reverse()) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const beanstalkd = await startBeanstalkd({ binlogDir: dataDir, fsyncMs: 0 });
    servers.push(beanstalkd);
    const mongo = await startMongoServer();
    servers.push(mongo);
    const port = options.port === 0 ? await freePort() : options.port;
    const env = {
      ...process.env,
      BEANSTALK_HOST: '127.0.0.1',
      BEANSTALK_PORT: String(beanstalkd.port),
      MONGO_URL: `${mongo.url}/distributed_workers`,
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      WORKER_WORK_DELAY_MS: '200-1500',
      LOG_LEVEL: 'warn',
    };
    const cli = process.argv[1] ?? 'dist/index.js';
    const start = (args: string[]) => {
      const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] });
      children.push(child);
      return child;
    };
    const manager = start(['manager']);
    await waitForPort(port, 15_000, manager);
    for (let i = 0; i < options.workers; i += 1) start(['worker', '--name', `demo-worker-${i + 1}`]);
    const base = `http://127.0.0.1:${port}`;

    say(`beanstalkd on 127.0.0.1:${beanstalkd.port} (binlog in ${dataDir}), ${mongo.name} at ${mongo.url}`);
    say(`manager at ${base}, ${options.workers} workers (each job sleeps 0.2-1.5 s to look like work)`);
    say(`posting ${options.jobs} sample jobs...`);
    const posted: Array<{ id: string; body: string }> = [];
    for (let i = 0; i < options.jobs; i += 1) {
      const body =
        i === 0 ? '{"example":"data"}' : JSON.stringify({ sample: i, at: new Date().toISOString() });
      const response = await fetch(`${base}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const answer = (await response.json()) as { id: string };
      if (response.status !== 202)
        throw new Error(`POST answered ${response.status}: ${JSON.stringify(answer)}`);
      posted.push({ id: answer.id, body });
    }
    const deadline = Date.now() + 120_000;
    let done = 0;
    while (done < posted.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const views = await Promise.all(
        posted.map(
          async (job) =>
            (await (await fetch(`${base}/jobs/${job.id}`)).json()) as {
              state: string;
              result?: { hash: string };
            },
        ),
      );
      done = views.filter((view) => view.state === 'completed').length;
      const running = views.filter((view) => view.state === 'running').length;
      say(`  ${done}/${posted.length} completed, ${running} running`);
      if (done === posted.length) {
        const wrong = views.filter((view, i) => view.result?.hash !== hashPayload(posted[i]!.body)).length;
        say(
          `all ${done} completed; ${wrong === 0 ? 'every hash is the MD5 of its payload' : `${wrong} hashes WRONG`}`,
        );
      }
    }
    const first = posted[0]!;
    say('');
    say('Where to look:');
    say(`  curl -s ${base}/jobs/${first.id}          # a job: state, beanstalkd fields, result`);
    say(`  curl -s -X POST -H 'Content-Type: application/json' -d '{"example":"data"}' ${base}/`);
    say(`  curl -s ${base}/readyz                     # beanstalkd and MongoDB reachable?`);
    say(`  MongoDB (${mongo.name}): ${mongo.url}/distributed_workers, collections jobs, results, queue_refs`);
    say(`  beanstalkd: 127.0.0.1:${beanstalkd.port}, tube hash (any beanstalkd client or console)`);
    if (options.exitWhenDone) {
      if (done !== posted.length) throw new Error(`only ${done} of ${posted.length} sample jobs completed`);
      return;
    }
    say('');
    say('Running until Ctrl-C.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  } finally {
    say('stopping the demo...');
    await stopAll();
  }
}
