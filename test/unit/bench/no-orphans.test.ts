import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { childPids } from '../../../bench/no-orphans.js';

const moduleUrl = new URL('../../../bench/no-orphans.ts', import.meta.url).href;

/** A bench-like script: no-orphans first, a long-lived child, then the way it ends. */
function script(ending: string, child = "spawn('sleep', ['300'], { stdio: 'ignore' })"): string {
  return [
    `import { removeOnExit } from ${JSON.stringify(moduleUrl)};`,
    "import { spawn } from 'node:child_process';",
    "import { mkdirSync } from 'node:fs';",
    `const child = ${child};`,
    'void removeOnExit; void mkdirSync;',
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
  async function runAndEnd(ending: string, end: (bench: ReturnType<typeof spawn>) => void, child?: string) {
    const file = join(dir, 'bench.mts');
    writeFileSync(file, script(ending, child));
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
    await end(bench);
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

  it('when a bench that made a temporary directory dies of an uncaught error, then the directory is gone', async () => {
    const made = join(dir, 'made-by-the-bench');
    await runAndEnd(
      `mkdirSync(removeOnExit(${JSON.stringify(made)})); setTimeout(() => { throw new Error('boom'); }, 50);`,
      () => {},
    );
    assert.equal(existsSync(made), false);
  });

  it('when a bench gets SIGTERM, then its children get SIGTERM first and may finish (a profile is written)', async () => {
    const ready = join(dir, 'child-ready');
    const marker = join(dir, 'child-stopped');
    // A child that takes 300 ms to stop after SIGTERM, as a worker writing its --cpu-prof does.
    const child = `spawn(process.execPath, ['-e', ${JSON.stringify(
      `const fs = require('node:fs'); process.on('SIGTERM', () => setTimeout(() => { fs.writeFileSync(${JSON.stringify(marker)}, 'x'); process.exit(0); }, 300)); fs.writeFileSync(${JSON.stringify(ready)}, 'x'); setInterval(() => {}, 1000);`,
    )}], { stdio: 'ignore' })`;
    const pid = await runAndEnd(
      'setInterval(() => {}, 1000);',
      async (bench) => {
        await waitUntil(() => existsSync(ready), 'the child to listen for SIGTERM', 20_000);
        bench.kill('SIGTERM');
      },
      child,
    );
    assert.equal(alive(pid), false);
    assert.equal(existsSync(marker), true, 'the child finished its own stop');
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
