/**
 * The bench scripts' command lines, through node's own `util.parseArgs` in strict mode: a typo
 * or an unknown flag stops the script with a clear message (exit 2) instead of being ignored by
 * a half-hour run, and `--help` (`-h`) prints the script's opening comment, which is where each
 * script lists its flags.
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** The opening `/** … *\/` comment of the script at `scriptUrl`, without its ` * ` margins. */
export function usageOf(scriptUrl: string): string {
  const source = readFileSync(fileURLToPath(scriptUrl), 'utf8');
  const comment = /^\s*\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? '';
  return comment
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim();
}

/** Stops the script at `scriptUrl` over a bad command line: the message and a pointer to --help, exit 2. */
export function badArgs(scriptUrl: string, message: string): never {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const script = relative(root, fileURLToPath(scriptUrl));
  process.stderr.write(`${script}: ${message}\n(see: npx tsx ${script} --help)\n`);
  process.exit(2);
}

/**
 * The flags of the script at `scriptUrl` (pass `import.meta.url`), parsed strictly; `--help`
 * prints its usage and exits 0, anything unknown or malformed exits 2.
 */
export function benchArgs<const O extends Options>(
  scriptUrl: string,
  options: O,
  { positionals = false }: { positionals?: boolean } = {},
) {
  let parsed: ReturnType<
    typeof parseArgs<{ options: O & typeof HELP; strict: true; allowPositionals: boolean }>
  >;
  try {
    parsed = parseArgs({ options: { ...options, ...HELP }, strict: true, allowPositionals: positionals });
  } catch (error: unknown) {
    return badArgs(scriptUrl, error instanceof Error ? error.message : String(error));
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    process.stdout.write(`${usageOf(scriptUrl)}\n`);
    process.exit(0);
  }
  return parsed;
}

/** A flag's value as a whole number of at least `min` (default 1), else `fallback` when absent. */
export function wholeNumber(
  scriptUrl: string,
  flag: string,
  value: string | undefined,
  fallback: number,
  min = 1,
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number) || number < min) {
    return badArgs(scriptUrl, `--${flag} takes a whole number of at least ${min}, not "${value}"`);
  }
  return number;
}
