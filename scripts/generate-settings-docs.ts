/**
 * Writes docs/settings.md and .env.example from the settings' declarations
 * (src/config/*-settings.ts): run `npm run docs:settings` after changing a setting
 * (test/unit/config/settings-docs.test.ts fails until then).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envExample, settingsMarkdown } from '../src/config/describe-settings.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

for (const [path, content] of [
  ['docs/settings.md', settingsMarkdown()],
  ['.env.example', envExample()],
] as const) {
  writeFileSync(join(root, path), content);
  console.log(`wrote ${path}`);
}
