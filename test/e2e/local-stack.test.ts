/**
 * `distributed-workers up` (npm run stack) as a user runs it in a terminal: everything starts,
 * the sample jobs complete, Mongo Express shows a job's stored result behind its login, and
 * Ctrl-C — SIGINT to the whole foreground process group — leaves no process and no data
 * directory behind.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { installMongoExpress } from '../../src/local/mongo-express.js';
import { NODE_FLAGS } from '../../src/local/node-flags.js';
import { cliPath, projectRoot, waitFor } from '../support/harness.js';
import { descendants, type ProcessInfo, stillRunning } from '../support/processes.js';
import { hashProblems, readStoredJobs } from '../support/stored-hashes.js';

describe('the local stack (npm run stack)', function () {
  this.timeout(180_000);
  let stack: ChildProcess | undefined;

  before(async function () {
    // The stack installs it on first use too; here with this process's environment (the
    // stack below gets only PATH and HOME), and outside the test's own deadlines.
    this.timeout(300_000);
    await installMongoExpress();
  });

  afterEach(() => {
    // Only if the test failed half-way: the stack's whole group, its children are separate groups.
    if (stack?.pid && stack.exitCode === null) {
      for (const info of descendants(stack.pid)) process.kill(info.pid, 'SIGKILL');
      stack.kill('SIGKILL');
    }
  });

  it('when up --help lists its options, then the Local stack table of docs/operations.md lists each of them', () => {
    const help = execFileSync(process.execPath, [cliPath, 'up', '--help'], { encoding: 'utf8' });
    const flags = [...help.matchAll(/^\s+--([a-z-]+)/gm)]
      .map((match) => match[1])
      .filter((flag) => flag !== 'help' && flag !== 'version');
    assert.ok(flags.length >= 5, `flags found in --help: ${flags.join(', ')}`);
    const operations = readFileSync(join(projectRoot, 'docs', 'operations.md'), 'utf8');
    const start = operations.indexOf('## Local stack');
    assert.ok(start >= 0, 'docs/operations.md has a Local stack section');
    const end = operations.indexOf('\n## ', start + 1);
    const section = operations.slice(start, end === -1 ? undefined : end);
    for (const flag of flags)
      assert.match(section, new RegExp(`\\| \`--${flag}\`\\s+\\|`), `docs/operations.md lists --${flag}`);
  });

  it("when the sample jobs completed, then Mongo Express shows one's stored result behind its login, and after Ctrl-C every process it started is gone", async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    if (process.env.DW_CACHE_DIR) env.DW_CACHE_DIR = process.env.DW_CACHE_DIR;
    // Its own process group, as a terminal gives a foreground command.
    stack = spawn(process.execPath, [cliPath, 'up', '--port', '0', '--jobs', '5', '--workers', '2'], {
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    stack.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    stack.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => stack?.once('exit', (code) => resolve(code)));
    const pid = stack.pid;
    assert.ok(pid);

    await waitFor(
      'the stack to say it runs until Ctrl-C',
      () => output.includes('Running until Ctrl-C.'),
      150_000,
      100,
    );
    assert.match(output, /all 5 completed; every hash is the MD5 of its payload/);
    await assertStoredHashes(output);
    assert.match(
      output,
      /\[manager\] \S+ INFO {2}manager listening/,
      'manager logs are prefixed and readable',
    );
    assert.match(output, /\[worker-2\] \S+ INFO {2}worker started/, 'worker logs are prefixed and readable');
    assert.doesNotMatch(output, /^\[(manager|worker-\d)\] \{/m, 'no raw JSON log lines');
    const dataDir = /data in (\S+), removed on exit/.exec(output)?.[1];
    assert.ok(dataDir && existsSync(dataDir), `the data directory is there while it runs: ${dataDir}`);

    const started = descendants(pid);
    const has = (what: RegExp) => started.filter((info: ProcessInfo) => what.test(info.command));
    assert.equal(has(/beanstalkd/).length, 1, `beanstalkd among ${JSON.stringify(started)}`);
    assert.equal(has(/ferretdb|mongod/).length, 1, 'one MongoDB-wire server');
    assert.equal(has(/index\.js manager$/).length, 1, 'one manager');
    assert.equal(has(/index\.js worker --name worker-\d$/).length, 2, 'two workers');
    // Each with its role's V8 flags (src/local/node-flags.ts), before the script.
    for (const role of ['manager', 'worker'] as const) {
      for (const info of has(new RegExp(`index\\.js ${role}\\b`)))
        assert.match(
          info.command,
          new RegExp(` ${NODE_FLAGS[role].join(' ')} \\S+index\\.js ${role}`),
          info.command,
        );
    }
    assert.equal(has(/mongo-express/).length, 1, 'one Mongo Express');
    for (const info of started) {
      assert.match(output, new RegExp(`\\b${info.pid}\\b`), `the stack names process ${info.pid} it started`);
    }

    await assertMongoExpressShowsAJob(output);

    // A worker killed from outside (as the stall watchdog or the kernel's OOM killer does) is
    // started again, as an orchestrator would.
    const killed = has(/index\.js worker --name worker-1$/)[0];
    assert.ok(killed);
    process.kill(killed.pid, 'SIGKILL');
    await waitFor(
      'worker-1 started again',
      () => /\[worker-1\] started again as process \d+/.test(output),
      20_000,
    );
    assert.match(output, /\[worker-1\] exited unexpectedly \(SIGKILL\); starting it again in 1 s/);
    const again = descendants(pid).filter((info) => /index\.js worker --name worker-1$/.test(info.command));
    assert.equal(again.length, 1, 'one worker-1 again');
    assert.notEqual(again[0]?.pid, killed.pid);
    assert.match(output, new RegExp(`started again as process ${again[0]?.pid}\\b`));
    await waitFor(
      'the new worker-1 to log its start',
      () => output.match(/\[worker-1\] \S+ INFO {2}worker started/g)?.length === 2,
      20_000,
    );
    const running = descendants(pid);

    process.kill(-pid, 'SIGINT');
    const code = await Promise.race([
      exited,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 40_000).unref()),
    ]);
    assert.equal(code, 0, output);

    const left = [...started, ...running].filter(stillRunning);
    assert.deepEqual(left, [], 'no process the stack started is still running');
    assert.equal(existsSync(dataDir), false, 'the data directory is removed');
    assert.match(output, /SIGINT: stopping/);
    const stopOrder = [
      'worker stopped',
      'manager stopped',
      'stopped; no process of the stack is left running',
    ];
    const positions = stopOrder.map((text) => output.lastIndexOf(text));
    assert.ok(
      positions.every((at, i) => at >= 0 && (i === 0 || at > (positions[i - 1] ?? -1))),
      `workers stop before the manager, the manager before the servers: ${positions.join(', ')}`,
    );
    assert.doesNotMatch(output, /Warning/, 'no Node warning (such as MaxListenersExceededWarning)');
  });
});

/** The sample jobs as the stack's MongoDB (the URL it printed) holds them: five, each with the right hash. */
async function assertStoredHashes(output: string): Promise<void> {
  const url = /MongoDB\s+(mongodb:\/\/\S+)/.exec(output)?.[1];
  assert.ok(url, 'the stack prints its MongoDB URL');
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  try {
    const jobs = await readStoredJobs(client.db());
    assert.equal(jobs.length, 5, 'the five sample jobs are stored');
    assert.deepEqual(hashProblems(jobs), [], 'each stored hash is the MD5 of its stored payload');
    const readme = jobs.find((job) => job.payload === '{"example":"data"}');
    assert.equal(readme?.result?.hash, '09ee943c4fa33cd5a355eb7a4e38f7ef', "the original README's answer");
  } finally {
    await client.close();
  }
}

/**
 * The Mongo Express the stack printed, asked as a user would: a sample job's document in the
 * stack's database shows that job's hash with the printed login, and nothing without it.
 */
async function assertMongoExpressShowsAJob(output: string): Promise<void> {
  const printed =
    /browse it\s+(http:\/\/127\.0\.0\.1:\d+\/)db\/distributed_workers\/\s+Mongo Express, user (\S+), password ([0-9a-f]{32}) /.exec(
      output,
    );
  assert.ok(printed, 'the stack prints where Mongo Express is, with its user and random password');
  const [, base = '', user = '', password = ''] = printed;
  const jobUrl = /curl -s (http:\/\/127\.0\.0\.1:\d+\/jobs\/(\S+))\s+# a sample job/.exec(output);
  assert.ok(jobUrl, 'the stack names a sample job');
  const [, url = '', id = ''] = jobUrl;
  const job = (await (await fetch(url)).json()) as { state: string; result?: { hash?: string } };
  assert.equal(job.state, 'completed');
  const hash = job.result?.hash;
  assert.match(hash ?? '', /^[0-9a-f]{32}$/);

  // Mongo Express 1.0.0's document page: /db/<db>/<collection>/<the _id as a JSON string>.
  const page = `${base}db/distributed_workers/results/${encodeURIComponent(JSON.stringify(id))}`;
  const login = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const shown = await fetch(page, { headers: { Authorization: login }, redirect: 'manual' });
  const html = await shown.text();
  assert.equal(shown.status, 200, html.slice(0, 300));
  assert.ok(html.includes(hash ?? '-'), "the page shows the job's stored hash");
  assert.ok(html.includes(id), "the page shows the job's id");

  const anonymous = await fetch(page, { redirect: 'manual' });
  await anonymous.body?.cancel();
  assert.equal(anonymous.status, 401, 'no login, no page');
  const wrong = await fetch(page, {
    headers: { Authorization: `Basic ${Buffer.from(`${user}:not-${password}`).toString('base64')}` },
    redirect: 'manual',
  });
  await wrong.body?.cancel();
  assert.equal(wrong.status, 401, 'a wrong password, no page');
}
