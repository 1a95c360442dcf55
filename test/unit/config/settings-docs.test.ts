/** The settings' declarations are sound, and docs/settings.md and .env.example are rendered from them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '../../../src/config/config.js';
import { envExample, helpText, settingsMarkdown } from '../../../src/config/describe-settings.js';
import { SettingsReader } from '../../../src/config/reader.js';
import { defaultText } from '../../../src/config/setting-kinds.js';
import { projectRoot } from '../../support/harness.js';

const read = (path: string) => readFileSync(join(projectRoot, path), 'utf8');

describe('settings docs', () => {
  it('when a setting changes, then docs/settings.md and .env.example must be regenerated (npm run docs:settings)', () => {
    assert.equal(read('docs/settings.md'), settingsMarkdown(), 'docs/settings.md is stale');
    assert.equal(read('.env.example'), envExample(), '.env.example is stale');
  });

  it('when the generated files are read, then each setting has its row, its commented line and its help', () => {
    const docs = read('docs/settings.md');
    const example = read('.env.example');
    for (const setting of SETTINGS) {
      assert.match(
        docs,
        new RegExp(`^\\| \`${setting.env}\` \\| \`--${setting.flag}\` \\|`, 'm'),
        setting.env,
      );
      assert.ok(example.includes(`\n# ${setting.env}=${defaultText(setting)}\n`), setting.env);
      assert.match(helpText(setting), new RegExp(`\\[env ${setting.env}\\]`));
    }
  });

  it('when nothing is set, then every declared default parses cleanly to itself, also when written out', () => {
    for (const setting of SETTINGS) {
      const unset = new SettingsReader({});
      assert.deepEqual(unset.read(setting), setting.default, setting.env);
      const written = new SettingsReader({ [setting.env]: defaultText(setting) });
      assert.deepEqual(written.read(setting), setting.default, setting.env);
      assert.deepEqual([...unset.problems, ...written.problems], [], setting.env);
    }
  });

  it('when the declarations are listed, then no variable or flag is declared twice and bounds hold their default', () => {
    assert.equal(new Set(SETTINGS.map((s) => s.env)).size, SETTINGS.length);
    assert.equal(new Set(SETTINGS.map((s) => s.flag)).size, SETTINGS.length);
    for (const setting of SETTINGS) {
      assert.ok(setting.roles.length > 0, setting.env);
      if (setting.kind === 'int' || setting.kind === 'number') {
        assert.ok(setting.min <= setting.default && setting.default <= setting.max, setting.env);
      }
    }
  });
});
