/**
 * The real tools that validate the deploy files (docker stack config, docker-compose, helm,
 * actionlint), installed once per run by scripts/install-deploy-tools.sh, and their output.
 * None needs a Docker engine or a cluster.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { projectRoot } from './harness.js';

const run = promisify(execFile);

export type ToolName = 'docker-compose' | 'docker' | 'helm' | 'actionlint';
export type DeployTools = Readonly<Partial<Record<ToolName, string>>>;

let installing: Promise<DeployTools> | undefined;

/** Runs the install script once per test run; a tool it could not get is absent (with its reason logged). */
export function deployTools(): Promise<DeployTools> {
  installing ??= (async () => {
    const started = Date.now();
    const { stdout, stderr } = await run('bash', [join(projectRoot, 'scripts', 'install-deploy-tools.sh')], {
      maxBuffer: 10 * 1024 * 1024,
    });
    if (stderr.trim() !== '') process.stderr.write(stderr);
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

/** The tool's path, or skips the calling test with the reason when it could not be installed. */
export function requireTool(context: Mocha.Context, tools: DeployTools, name: ToolName): string {
  const path = tools[name];
  if (!path) {
    process.stderr.write(`skipped: ${name} is not available here (see install-deploy-tools output)\n`);
    context.skip();
  }
  return path as string;
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
