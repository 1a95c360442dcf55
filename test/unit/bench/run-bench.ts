/** Runs a bench script as a user would (through tsx), for the bench's own unit tests. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

export const benchScript = (script: string) =>
  resolve(new URL(`../../../bench/${script}`, import.meta.url).pathname);

/** Runs `bench/<script>` with `args` and `input` on its stdin; its exit code and output. */
export async function runBench(script: string, args: string[], input = '') {
  const child = spawn(process.execPath, ['--import', 'tsx', benchScript(script), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(input);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
