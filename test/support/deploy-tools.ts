/**
 * The real tools that validate the deploy files (docker stack config, docker-compose, helm,
 * actionlint), installed once per run by scripts/install-deploy-tools.sh, and their output.
 * None needs a Docker engine or a cluster. A tool that could not be installed skips its
 * checks with the reason, except in CI (`CI` set, as GitHub Actions and .ci/run set it),
 * where it fails them: a skipped deploy check there would pass a run that checked nothing.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { projectRoot } from './harness.js';

const run = promisify(execFile);

export type ToolName = 'docker-compose' | 'docker' | 'helm' | 'actionlint';
export type DeployTools = Readonly<Partial<Record<ToolName, string>>>;

/** Why each missing tool is missing: the install script's own lines about it. */
const reasons = new Map<ToolName, string[]>();

let installing: Promise<DeployTools> | undefined;

/** Runs the install script once per test run; a tool it could not get is absent (with its reason logged). */
export function deployTools(): Promise<DeployTools> {
  installing ??= (async () => {
    const started = Date.now();
    const { stdout, stderr } = await run('bash', [join(projectRoot, 'scripts', 'install-deploy-tools.sh')], {
      maxBuffer: 10 * 1024 * 1024,
    });
    if (stderr.trim() !== '') process.stderr.write(stderr);
    for (const line of stderr.split('\n')) {
      const about = /^install-deploy-tools: (docker-compose|docker|helm|actionlint): (.*)$/.exec(line);
      if (about?.[2] && !about[2].startsWith('not available'))
        reasons.set(about[1] as ToolName, [...(reasons.get(about[1] as ToolName) ?? []), about[2]]);
    }
    const tools: Partial<Record<ToolName, string>> = {};
    for (const line of stdout.split('\n')) {
      const match = /^(docker-compose|docker|helm|actionlint)=(.*)$/.exec(line);
      if (match?.[2]) tools[match[1] as ToolName] = match[2];
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (Date.now() - started > 5000) process.stderr.write(`deploy tools ready in ${seconds} s\n`);
    return tools;
  })();
  return installing;
}

/** Whether this run is CI's: there a check must run or fail, never skip. */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/**
 * The tool's path. When it could not be installed: in CI, throws with the reason (the test
 * fails); elsewhere skips the calling test, saying why.
 */
export function requireTool(
  context: Mocha.Context,
  tools: DeployTools,
  name: ToolName,
  env: NodeJS.ProcessEnv = process.env,
  say: (line: string) => void = (line) => process.stderr.write(line),
): string {
  const path = tools[name];
  if (path) return path;
  const why = (reasons.get(name) ?? ['no reason given by scripts/install-deploy-tools.sh']).join('; ');
  if (inCi(env)) {
    throw new Error(`${name} is not available, and in CI (CI=${env.CI}) its checks must run: ${why}`);
  }
  say(`skipped: ${name} is not available here: ${why}\n`);
  context.skip();
}

/** The environment for rendering: the stack file's own variables unset, so defaults show. */
export function renderEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  return { ...env, ...extra };
}

export async function runTool(
  path: string,
  args: string[],
  env: NodeJS.ProcessEnv = renderEnv(),
): Promise<string> {
  const { stdout } = await run(path, args, { cwd: projectRoot, env, maxBuffer: 20 * 1024 * 1024 });
  return stdout;
}

export function parseOne(text: string): Record<string, unknown> {
  return parseYaml(text) as Record<string, unknown>;
}

/** Every non-empty document of a multi-document YAML stream (helm template's output). */
export function parseMany(text: string): Array<Record<string, unknown>> {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Record<string, unknown> | null)
    .filter((doc): doc is Record<string, unknown> => doc !== null && typeof doc === 'object');
}
