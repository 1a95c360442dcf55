import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { childPids } from '../../../bench/no-orphans.js';

const moduleUrl = new URL('../../../bench/no-orphans.ts', import.meta.url).href;

/** A bench-like script: no-orphans first, a long-lived child, then the way it ends. */
function script(ending: string): string {
  return [
    `import ${JSON.stringify(moduleUrl)};`,
    "import { spawn } from 'node:child_process';",
    "const child = spawn('sleep', ['300'], { stdio: 'ignore' });",
    'process.stdout.write(String(child.pid) + "\\n");',
    ending,
  ].join('\n');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('bench/no-orphans', () => {
  let dir: string;
  /** Children of the scripts: killed here whatever a failed test left. */
  let started: number[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dw-no-orphans-'));
    started = [];
  });
  afterEach(() => {
    for (const pid of started.filter(alive)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the script until it printed its child's pid, ends it as `end` says, answers that pid. */
  async function runAndEnd(ending: string, end: (bench: ReturnType<typeof spawn>) => void) {
    const file = join(dir, 'bench.mts');
    writeFileSync(file, script(ending));
    const bench = spawn(process.execPath, ['--import', 'tsx', resolve(file)], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    bench.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await waitUntil(() => out.includes('\n'), 'the script to start its child', 20_000);
    const pid = Number(out.trim());
    assert.ok(Number.isInteger(pid) && pid > 0, `a child pid, not ${JSON.stringify(out)}`);
    started.push(pid);
    const exited = once(bench, 'exit');
    end(bench);
    await exited;
    return pid;
  }

  it('when a bench dies of an uncaught error, then the process it started is killed', async () => {
    const pid = await runAndEnd("setTimeout(() => { throw new Error('boom'); }, 50);", () => {});
    await waitUntil(() => !alive(pid), `child ${pid} to be gone`);
  });

  it('when a bench gets SIGTERM, then it exits and the process it started is killed', async () => {
    const pid = await runAndEnd('setInterval(() => {}, 1000);', (bench) => bench.kill('SIGTERM'));
    await waitUntil(() => !alive(pid), `child ${pid} to be gone`);
  });

  it('when the bench is still running, then childPids lists the processes it started and no others', async () => {
    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      assert.ok(child.pid !== undefined);
      assert.ok(childPids().includes(child.pid), 'our own child is listed');
      assert.ok(!childPids().includes(process.pid), 'we are not our own child');
      assert.deepEqual(childPids(child.pid), [], 'sleep has no children');
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
});
