/** The README and docs/, `.env.example`, `--help` and the code agree; the local stack's `demo` alias works. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { SETTINGS } from '../../src/config/config.js';
import { ErrorCode } from '../../src/errors.js';
import { cliPath, projectRoot, spawnCli, stopAllSpawned, waitFor } from '../support/harness.js';
import { hashProblems, readStoredJobs, type StoredJob } from '../support/stored-hashes.js';

const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const envExample = readFileSync(join(projectRoot, '.env.example'), 'utf8');

describe('CLI and docs', function () {
  this.timeout(120_000);
  afterEach(() => stopAllSpawned());

  it('when the README is read, then it opens with the two commands and CI runs the same test command', () => {
    const commands = readme.split('\n').filter((line) => line.startsWith('npm '));
    assert.match(commands[0] ?? '', /^npm ci && npm run stack\b/);
    assert.match(commands[1] ?? '', /^npm ci && npm test\b/);
    assert.match(readFileSync(join(projectRoot, '.ci', 'run'), 'utf8'), /npm ci && npm test/);
  });

  it('when settings and error codes change, then docs/settings.md, docs/api.md and .env.example list every one', () => {
    const settingsDoc = readFileSync(join(projectRoot, 'docs', 'settings.md'), 'utf8');
    const apiDoc = readFileSync(join(projectRoot, 'docs', 'api.md'), 'utf8');
    for (const setting of SETTINGS) {
      const row = new RegExp(`\\|\\s*\`${setting.env}\`\\s*\\|\\s*\`--${setting.flag}\`\\s*\\|`);
      assert.match(settingsDoc, row, `docs/settings.md's table lists ${setting.env} with --${setting.flag}`);
      assert.ok(envExample.includes(setting.env), `.env.example lists ${setting.env}`);
    }
    for (const code of Object.values(ErrorCode))
      assert.ok(apiDoc.includes(`\`${code}\``), `docs/api.md lists ${code}`);
  });

  it('when --help is asked of each role, then it lists every flag of that role with its variable', () => {
    for (const role of ['manager', 'worker'] as const) {
      const help = execFileSync(process.execPath, [cliPath, role, '--help'], { encoding: 'utf8' }).replace(
        /\s+/g,
        ' ',
      );
      for (const setting of SETTINGS.filter((s) => s.roles.includes(role))) {
        assert.ok(help.includes(`--${setting.flag}`), `${role} --help has --${setting.flag}`);
        assert.ok(help.includes(setting.env), `${role} --help names ${setting.env}`);
      }
    }
  });

  it('when load --help lists its options, then the bulk-loading section of docs/operations.md names each of them', () => {
    const help = execFileSync(process.execPath, [cliPath, 'load', '--help'], { encoding: 'utf8' });
    const flags = [...help.matchAll(/^\s+--([a-z-]+)/gm)]
      .map((match) => match[1] ?? '')
      .filter((flag) => flag !== 'help' && flag !== 'version');
    assert.ok(flags.includes('api-key'), `flags found in --help: ${flags.join(', ')}`);
    const operations = readFileSync(join(projectRoot, 'docs', 'operations.md'), 'utf8');
    const start = operations.indexOf('## Bulk loading');
    assert.ok(start >= 0, 'docs/operations.md has a Bulk loading section');
    const end = operations.indexOf('\n## ', start + 1);
    const section = operations.slice(start, end === -1 ? undefined : end);
    for (const flag of flags) {
      // A boolean that is on by default is documented by how it is turned off.
      assert.match(
        section,
        new RegExp(`(?:^|[\\s\`])--(?:no-)?${flag}\\b`, 'm'),
        `docs/operations.md names --${flag}`,
      );
    }
    assert.match(section, /`API_KEY`/, 'and the variable --api-key falls back to');
  });

  it('when an unknown command or flag is given, then the CLI says so and exits non-zero', () => {
    assert.throws(() => execFileSync(process.execPath, [cliPath, 'mangaer'], { stdio: 'pipe' }));
    assert.throws(() =>
      execFileSync(process.execPath, [cliPath, 'worker', '--concurrncy', '2'], { stdio: 'pipe' }),
    );
  });

  it('when a worker and a manager run, then only the manager has loaded the HTTP stack, and neither what is off', async () => {
    // Each role imports its own code (index.ts): the manager's HTTP stack kept about 17 MB more
    // resident in every worker replica. The rate limiter and the pretty printer load only when
    // a limit or --pretty is set (neither is here). Unreachable backends: both start and retry.
    const loaded = async (role: 'manager' | 'worker', started: string) => {
      const cli = spawnCli([role], {
        NODE_OPTIONS: `--require ${join(projectRoot, 'test', 'support', 'report-packages.cjs')}`,
        BEANSTALK_PORT: '1',
        MONGO_URL: 'mongodb://127.0.0.1:1/dw-loaded-packages',
        MANAGER_LISTEN_PORT: '0',
        WORKER_SHUTDOWN_GRACE_MS: '0',
      });
      await waitFor(
        `the ${role} to log "${started}"`,
        () => cli.records().some((line) => line.msg === started),
        20_000,
      );
      await cli.stop();
      const report = cli.lines.find((line) => line.startsWith('loaded packages: '));
      assert.ok(report, `the ${role} reported its packages: ${cli.lines.join('\n')}`);
      return report.slice('loaded packages: '.length).split(',');
    };
    const [manager, worker] = await Promise.all([
      loaded('manager', 'manager listening'),
      loaded('worker', 'worker started'),
    ]);
    for (const name of ['koa', 'raw-body', 'mongodb', 'jackd'])
      assert.ok(manager.includes(name), `the manager loaded ${name}: ${manager.join(',')}`);
    for (const name of ['mongodb', 'jackd'])
      assert.ok(worker.includes(name), `the worker loaded ${name}: ${worker.join(',')}`);
    // Packages loaded as ES modules (@koa/router) are not in the report: those named here show when loaded.
    for (const name of [
      'koa',
      '@koa/cors',
      'raw-body',
      'rate-limiter-flexible',
      'cli-progress',
      'pino-pretty',
    ])
      assert.ok(!worker.includes(name), `the worker did not load ${name}: ${worker.join(',')}`);
    for (const name of ['rate-limiter-flexible', 'pino-pretty', 'cli-progress'])
      assert.ok(!manager.includes(name), `the manager did not load ${name}: ${manager.join(',')}`);
  });

  it('when the stack runs by its old name demo with --exit-when-done, then it completes its sample jobs and stops', async () => {
    const cache: Record<string, string> = process.env.DW_CACHE_DIR
      ? { DW_CACHE_DIR: process.env.DW_CACHE_DIR }
      : {};
    // Without Mongo Express: this is about the alias (test/e2e/local-stack.test.ts checks it).
    const demo = spawnCli(
      ['demo', '--port', '0', '--jobs', '5', '--workers', '2', '--exit-when-done', '--no-mongo-express'],
      cache,
    );
    let exited = false;
    void demo.exited.then(() => {
      exited = true;
    });
    // Its MongoDB goes with it: read the stored jobs while it runs, from the URL it prints,
    // until all five are completed (or it has stopped).
    const url = await waitFor(
      'the stack to print its MongoDB URL',
      () => (exited ? 'exited' : /MongoDB\s+(mongodb:\/\/\S+)/.exec(demo.lines.join('\n'))?.[1]),
      120_000,
    );
    let stored: StoredJob[] = [];
    if (url !== 'exited') {
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 2000 });
      try {
        await waitFor(
          'five completed jobs stored',
          async () => {
            if (exited) return true;
            const jobs = await readStoredJobs(client.db());
            if (jobs.length === 5 && jobs.every((job) => job.outcome !== undefined)) stored = jobs;
            return stored.length > 0;
          },
          120_000,
        );
      } finally {
        await client.close();
      }
    }
    const { code } = await demo.exited;
    const output = demo.lines.join('\n');
    assert.equal(code, 0, output);
    assert.equal(stored.length, 5, 'the five sample jobs were read from its MongoDB before it stopped');
    assert.deepEqual(hashProblems(stored), [], 'each stored hash is the MD5 of its stored payload');
    assert.match(output, /all 5 completed; every hash is the MD5 of its payload/);
    assert.match(output, /Where to look:/);
    assert.match(output, /stopped; no process of the stack is left running/);
  });
});
