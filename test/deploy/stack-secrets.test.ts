/**
 * The secrets as docker-compose.yml's header tells users to write them. What those lines
 * write must start a manager (its API_KEYS_FILE parser accepts the file), and the swarm test
 * must deploy with secrets written by those very lines, so the two cannot drift apart again
 * (an earlier header wrote a bare key, which stops the manager at start).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManagerConfig } from '../../src/config/config.js';
import { projectRoot } from '../support/harness.js';

const read = (path: string) => readFileSync(join(projectRoot, path), 'utf8');
const engineScript = join(projectRoot, 'scripts', 'swarm-engine.sh');

/** The header comment's command lines that write under secrets/, without their "#   ". */
function headerSecretSteps(): string[] {
  const lines = read('docker-compose.yml').split('\n');
  const header = lines.slice(
    0,
    lines.findIndex((line) => !line.startsWith('#')),
  );
  return header
    .filter((line) => /^# {3}\S/.test(line) && line.includes('secrets/'))
    .map((line) => line.slice(4));
}

/** What the manager makes of DIR/secrets/api_keys, and the other secret file. */
function readSecrets(dir: string) {
  const config = loadManagerConfig({ API_KEYS_FILE: join(dir, 'secrets', 'api_keys') });
  return {
    apiKeys: config.security.apiKeys,
    mongoExpressPassword: readFileSync(join(dir, 'secrets', 'mongo_express_password'), 'utf8'),
  };
}

function inTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'dw-secrets-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the stack file's secret steps", () => {
  it("when a user runs the header's secret lines as written, then the manager accepts the api_keys file they write", () => {
    const steps = headerSecretSteps();
    assert.ok(
      steps.some((step) => step.includes('secrets/api_keys')) &&
        steps.some((step) => step.includes('secrets/mongo_express_password')),
      `the header writes both secrets: ${JSON.stringify(steps)}`,
    );
    inTempDir((dir) => {
      execFileSync('bash', ['-euo', 'pipefail', '-c', steps.join('\n')], { cwd: dir, stdio: 'pipe' });
      const secrets = readSecrets(dir);
      assert.equal(secrets.apiKeys.length, 1);
      assert.equal(secrets.apiKeys[0]?.name, 'ops');
      assert.match(secrets.apiKeys[0]?.key ?? '', /^[0-9a-f]{64}$/);
      assert.match(secrets.mongoExpressPassword, /^[0-9a-f]{32}\n$/);
    });
  });

  it('when the swarm test writes its secrets, then it runs exactly those header lines and prints no secret', () => {
    const printed = execFileSync('bash', [engineScript, 'secret-steps'], { encoding: 'utf8' });
    assert.deepEqual(printed.trimEnd().split('\n'), headerSecretSteps());
    inTempDir((dir) => {
      const output = execFileSync('bash', [engineScript, 'secrets', dir], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
      assert.equal(output, '', 'nothing printed');
      const secrets = readSecrets(dir);
      assert.deepEqual(
        secrets.apiKeys.map((k) => k.name),
        ['ops'],
      );
      assert.match(secrets.apiKeys[0]?.key ?? '', /^[0-9a-f]{64}$/);
    });
    // test-swarm.sh writes them (before the scenarios run) where the deploy looks for them...
    const driver = read('scripts/test-swarm.sh');
    const writes = driver.indexOf('bash scripts/swarm-engine.sh secrets "$dir"');
    assert.ok(writes >= 0 && writes < driver.indexOf('npx mocha'), 'test-swarm.sh writes the secrets first');
    assert.match(
      read('test/swarm/swarm.test.ts'),
      /DW_SECRETS_DIR: join\(process\.env\.DW_SWARM_DIR \?\? '', 'secrets'\)/,
    );
    // ...and the scenarios write none of their own.
    for (const file of ['test/swarm/swarm.test.ts', 'test/support/job-flow.ts', 'test/swarm/docker.ts'])
      assert.doesNotMatch(read(file), /writeFile/, `${file} writes no file of its own`);
  });

  it("when docs/deploy.md shows the secret steps, then they are the header's commands", () => {
    const deploy = read('docs/deploy.md');
    const start = deploy.indexOf('## The stack file');
    assert.ok(start >= 0, 'docs/deploy.md has a "The stack file" section');
    const section = deploy.slice(start, deploy.indexOf('## One machine', start));
    for (const command of headerSecretSteps().flatMap((step) => step.split(' && ')))
      assert.ok(section.includes(command), `docs/deploy.md's "The stack file" shows: ${command}`);
  });
});
