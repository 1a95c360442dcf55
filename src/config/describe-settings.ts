/**
 * The settings as people read them: a `--help` line, the table of docs/settings.md and
 * `.env.example`, all rendered from the declarations (`npm run docs:settings` writes the files;
 * a unit test fails when they are stale).
 */
import { defaultText, type Setting } from './setting-kinds.js';
import { SETTINGS } from './settings.js';

const GENERATED =
  'Generated from src/config/*-settings.ts by `npm run docs:settings`: edit those, not this file.';

/** A description without its `code` marks, for a terminal or a comment. */
function plain(markdown: string): string {
  return markdown.replaceAll('`', '');
}

/** The values a setting takes when its kind bounds them (`1 to 65535`), else undefined. */
export function valuesOf(setting: Setting): string | undefined {
  switch (setting.kind) {
    case 'int':
    case 'number':
      return `${setting.min} to ${setting.max}`;
    case 'bool':
      return 'true or false';
    case 'choice':
      return `one of ${setting.choices.join(', ')}`;
    case 'range':
      return `each 0 to ${setting.max}`;
    default:
      return undefined;
  }
}

/** The text `--help` shows beside a setting's flag (yargs adds the type). */
export function helpText(setting: Setting): string {
  const values = setting.kind === 'bool' ? undefined : valuesOf(setting);
  const fallback = defaultText(setting);
  return [
    plain(setting.description),
    `[env ${setting.env}]`,
    ...(fallback === '' ? [] : [`[default: ${fallback}]`]),
    ...(values === undefined ? [] : [`[${values}]`]),
  ].join(' ');
}

/** docs/settings.md: one table row per setting. */
export function settingsMarkdown(settings: readonly Setting[] = SETTINGS): string {
  const rows = settings.map((setting) => {
    const fallback = defaultText(setting);
    const values = valuesOf(setting);
    const meaning = values === undefined ? setting.description : `${setting.description}; ${values}`;
    return `| \`${setting.env}\` | \`--${setting.flag}\` | ${fallback === '' ? '—' : `\`${fallback}\``} | ${setting.roles.join(', ')} | ${meaning.replaceAll('|', '\\|')} |`;
  });
  return [
    `<!-- ${GENERATED} -->`,
    '',
    '# Settings',
    '',
    'Every setting of the manager and the worker, with the values it accepts after the `;`: a flag wins over its environment variable, which wins over a `.env` line (see `.env.example`); unset or empty means the default.',
    '',
    '| variable | flag | default | roles | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** `.env.example`: every setting, commented out at its default, under its group's heading. */
export function envExample(settings: readonly Setting[] = SETTINGS): string {
  const lines = [
    '# Copy to .env (read at start; the environment and CLI flags win over it).',
    '# Every setting, its flag and default: docs/settings.md, or `distributed-workers manager --help`.',
    `# ${GENERATED}`,
  ];
  let heading: string | undefined;
  for (const setting of settings) {
    if (setting.group !== heading) {
      heading = setting.group;
      lines.push('', `# --- ${heading} ---`);
    }
    const values = valuesOf(setting);
    const about = `${plain(setting.description)}${values === undefined ? '' : `; ${values}`}`;
    lines.push(...wrap(about, 98).map((line) => `# ${line}`), `# ${setting.env}=${defaultText(setting)}`);
  }
  lines.push(
    '',
    '# --- read by one command, not by a role ---',
    "# the local stack (`npm run stack`): Mongo Express's login (user admin); random per run, and",
    '# printed, when unset',
    '# MONGO_EXPRESS_PASSWORD=',
    '# `load`: sent as Authorization: Bearer <key> to a manager with API_KEYS; never printed',
    '# API_KEY=',
    '',
  );
  return lines.join('\n');
}

/** Splits text into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
