/**
 * A deploy check whose tool could not be installed is skipped on a developer's machine and
 * fails in CI: in CI a skip would let a run pass that never checked the deploy files.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inCi, requireTool } from '../support/deploy-tools.js';
import { projectRoot } from '../support/harness.js';

/** A mocha context whose skip() is recorded (and, as mocha's, ends the caller). */
function fakeContext() {
  const seen = { skipped: false };
  const context = {
    skip(): never {
      seen.skipped = true;
      throw new Error('skipped');
    },
  } as unknown as Mocha.Context;
  return { context, seen };
}

describe('deploy tools a run could not install', () => {
  it('when CI is set, then a missing tool fails its checks, naming the tool and CI', () => {
    for (const value of ['true', '1', 'yes']) {
      const { context, seen } = fakeContext();
      assert.throws(
        () => requireTool(context, {}, 'helm', { CI: value }),
        /helm is not available, and in CI \(CI=\S+\) its checks must run/,
      );
      assert.equal(seen.skipped, false, `CI=${value}: not skipped`);
    }
  });

  it('when CI is not set (or false), then a missing tool skips its checks', () => {
    for (const env of [{}, { CI: '' }, { CI: 'false' }, { CI: '0' }]) {
      const { context, seen } = fakeContext();
      const said: string[] = [];
      assert.throws(
        () => requireTool(context, {}, 'actionlint', env, (line) => said.push(line)),
        /^Error: skipped$/,
      );
      assert.equal(seen.skipped, true, JSON.stringify(env));
      assert.match(said.join(''), /^skipped: actionlint is not available here: \S/, 'and says why');
    }
  });

  it('when a tool is there, then its path is used, in CI or not', () => {
    const { context } = fakeContext();
    assert.equal(
      requireTool(context, { docker: '/usr/bin/docker' }, 'docker', { CI: 'true' }),
      '/usr/bin/docker',
    );
  });

  it('when .ci/run runs the tests, then CI is set for them', () => {
    const script = readFileSync(join(projectRoot, '.ci', 'run'), 'utf8');
    const exported = script.indexOf('export CI=');
    assert.ok(exported >= 0 && exported < script.indexOf('npm test'), 'export CI= comes before npm test');
    assert.ok(inCi({ CI: /export CI=\$\{CI:-(\w+)\}/.exec(script)?.[1] ?? '' }), 'to a value that means CI');
  });
});
