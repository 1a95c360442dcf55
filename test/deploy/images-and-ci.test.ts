/**
 * The Dockerfiles (read as text: no engine here to build them), the image's health check
 * (run for real), and the GitHub Actions workflow (actionlint, then what it runs).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { NODE_FLAGS } from '../../src/local/node-flags.js';
import { deployTools, requireTool, runTool } from '../support/deploy-tools.js';
import { projectRoot } from '../support/harness.js';

const read = (path: string) => readFileSync(join(projectRoot, path), 'utf8');

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(path: string): Array<{ op: string; args: string }> {
  return read(path)
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of the last stage (what the image is). */
function finalStage(path: string) {
  const all = instructions(path);
  const lastFrom = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(lastFrom);
}

function assertPinnedBases(path: string) {
  for (const { args } of instructions(path).filter((i) => i.op === 'FROM')) {
    const image = args.split(/\s+/)[0] ?? '';
    const tag = /:([^/:]+)$/.exec(image)?.[1];
    assert.ok(tag && tag !== 'latest' && /\d/.test(tag), `${path}: FROM ${image} is pinned`);
  }
}

function assertNonRoot(path: string) {
  const users = finalStage(path).filter((i) => i.op === 'USER');
  const user = users.at(-1)?.args ?? 'root';
  assert.doesNotMatch(user, /^(root|0)(:|$)/, `${path} runs as ${user}`);
}

describe('the images and the CI workflow', function () {
  this.timeout(30_000);

  it('when the app image is built, then it is multi-stage, slim, non-root, health-checked, and runs the CLI', () => {
    const all = instructions('Dockerfile');
    const froms = all.filter((i) => i.op === 'FROM').map((i) => i.args);
    assert.ok(froms.length >= 2, 'multi-stage');
    for (const from of froms) assert.match(from, /^node:20-bookworm-slim\b/);
    assertPinnedBases('Dockerfile');
    assertNonRoot('Dockerfile');
    const final = finalStage('Dockerfile');
    assert.ok(
      final.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args)),
      'production dependencies only',
    );
    assert.ok(
      final.some((i) => i.op === 'COPY' && /--from=build \S*dist/.test(i.args)),
      'dist/ from the build',
    );
    assert.ok(final.some((i) => i.op === 'HEALTHCHECK' && /healthcheck\.cjs/.test(i.args)));
    assert.deepEqual(JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')?.args ?? 'null'), [
      'node',
      'dist/index.js',
    ]);
    assert.deepEqual(JSON.parse(final.find((i) => i.op === 'CMD')?.args ?? 'null'), ['manager']);
  });

  it("when a manager or worker starts from the image or npm's scripts, then node gets its role's V8 flags", () => {
    const env = finalStage('Dockerfile')
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args);
    assert.ok(env.includes(`NODE_OPTIONS=${NODE_FLAGS.manager.join(' ')}`), "the image: the manager's");
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const role of ['manager', 'worker'] as const) {
      assert.equal(scripts[role], `node ${NODE_FLAGS[role].join(' ')} dist/index.js ${role}`, role);
    }
  });

  it('when the build context is sent, then .dockerignore keeps node_modules and secrets out', () => {
    const ignore = read('.dockerignore').split('\n');
    assert.equal(
      ignore.find((line) => line.trim() !== '' && !line.startsWith('#')),
      '*',
      'all ignored first',
    );
    const allowed = ignore.filter((line) => line.startsWith('!'));
    for (const line of allowed) assert.doesNotMatch(line, /node_modules|secrets|\.env/, line);
    for (const needed of [
      'package-lock.json',
      'src/',
      'index.ts',
      'ui/',
      'scripts/build-ui.mjs',
      'deploy/docker/',
    ])
      assert.ok(allowed.includes(`!${needed}`), `${needed} is sent`);
  });

  it('when the app image is built, then its build stage bundles the dashboard into dist/ui before dist/ is copied', () => {
    const all = instructions('Dockerfile');
    const build = all.slice(0, all.map((i) => i.op).lastIndexOf('FROM'));
    const copies = build.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(copies.includes('ui ./ui'), 'the dashboard sources');
    assert.ok(copies.includes('scripts/build-ui.mjs ./scripts/build-ui.mjs'), 'its build script');
    const buildAt = build.findIndex((i) => i.op === 'RUN' && i.args === 'npm run build');
    const uiAt = build.findIndex((i) => i.op === 'COPY' && i.args === 'ui ./ui');
    assert.ok(uiAt >= 0 && buildAt > uiAt, 'copied before npm run build');
    assert.match(
      JSON.parse(read('package.json')).scripts.build,
      /node scripts\/build-ui\.mjs/,
      'npm run build bundles it',
    );
  });

  it('when beanstalkd is built, then it runs as non-root with a binlog in /data and fsync on every write', () => {
    const path = 'deploy/beanstalkd/Dockerfile';
    assertPinnedBases(path);
    assertNonRoot(path);
    const final = finalStage(path);
    const cmd = JSON.parse(final.find((i) => i.op === 'CMD')?.args ?? '[]') as string[];
    assert.ok(
      cmd.some((a, i) => a === '-b' && cmd[i + 1] === '/data'),
      `-b /data in ${cmd}`,
    );
    assert.ok(
      cmd.some((a, i) => a === '-f' && cmd[i + 1] === '0'),
      `-f 0 in ${cmd}`,
    );
    assert.ok(final.some((i) => i.op === 'VOLUME' && i.args === '/data'));
    assert.ok(final.some((i) => i.op === 'HEALTHCHECK'));
  });

  it('when the beanstalkd console is built, then its bases are pinned', () => {
    assertPinnedBases('deploy/beanstalk-console/Dockerfile');
  });

  describe("the image's health check script", () => {
    let server: Server | undefined;
    afterEach(() => server?.close());

    const check = (port: number) =>
      new Promise<number>((resolve) => {
        const child = execFile(
          process.execPath,
          [join(projectRoot, 'deploy', 'docker', 'healthcheck.cjs')],
          { env: { PATH: process.env.PATH ?? '', MANAGER_LISTEN_PORT: String(port) }, timeout: 10_000 },
          () => undefined,
        );
        child.once('exit', (code) => resolve(code ?? -1));
      });
    const serve = async (status: number) => {
      server = createServer((req, res) => {
        res.statusCode = req.url === '/healthz' ? status : 404;
        res.end();
      });
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    };

    it('when the manager answers /healthz with 200, then it passes', async () => {
      assert.equal(await check(await serve(200)), 0);
    });

    it('when /healthz answers an error, then it fails', async () => {
      assert.equal(await check(await serve(500)), 1);
    });

    it('when nothing listens, then it fails', async () => {
      const port = await serve(200);
      await new Promise((resolve) => server?.close(resolve));
      server = undefined;
      assert.equal(await check(port), 1);
    });
  });

  describe('the GitHub Actions workflow', () => {
    const workflow = parseYaml(read('.github/workflows/ci.yml')) as {
      jobs: Record<
        string,
        {
          services?: Record<string, { image?: string }>;
          env?: Record<string, string>;
          steps: Array<{ run?: string; uses?: string }>;
        }
      >;
    };
    const job = Object.values(workflow.jobs)[0];

    it('when actionlint reads it, then it reports nothing', async function () {
      this.timeout(900_000);
      const actionlint = requireTool(this, await deployTools(), 'actionlint');
      assert.equal(await runTool(actionlint, ['-color=false', '.github/workflows/ci.yml']), '');
    });

    it('when it runs, then the tests use real MongoDB and beanstalkd containers and the image is built', () => {
      assert.ok(job);
      assert.match(job.services?.mongo?.image ?? '', /^mongo:7\.0\.\d+$/);
      assert.equal(job.env?.MONGO_URL, 'mongodb://127.0.0.1:27017');
      assert.equal(job.env?.BEANSTALK_HOST, '127.0.0.1');
      assert.equal(job.env?.BEANSTALK_PORT, '11300');
      const runs = job.steps.map((step) => step.run ?? '').join('\n');
      assert.match(runs, /docker run -d --name beanstalkd -p 11300:11300/);
      assert.match(runs, /^npm test$/m);
      assert.match(runs, /docker build -t "distributed-workers:/);
      assert.ok(
        runs.indexOf('docker run -d --name beanstalkd') < runs.indexOf('npm test'),
        'beanstalkd runs before the tests',
      );
    });
  });
});
