import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usageOf } from '../../../bench/args.js';
import { runBench } from './run-bench.js';

const run = runBench;

describe('bench/args', function () {
  // Each case starts a real tsx process, which takes a second or two on this machine.
  this.timeout(60_000);

  it('when a bench script is given --help, then it prints its opening comment and exits 0', async () => {
    const { code, stdout } = await run('run.ts', ['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /^`npm run bench \[-- --quick\]`: measures distributed-workers/);
    assert.match(stdout, /--only post,batch,e2e,pickup,get,reads/);
    assert.doesNotMatch(stdout, /^\s*\*/m, 'the comment margins are stripped');
  });

  it('when a flag is unknown (a typo), then the script exits 2 naming it, before it starts anything', async () => {
    const { code, stdout, stderr } = await run('run.ts', ['--onyl', 'post']);
    assert.equal(code, 2);
    assert.match(stderr, /^bench\/run\.ts: Unknown option '--onyl'/);
    assert.match(stderr, /npx tsx bench\/run\.ts --help/);
    // The bench's first line (printed once it has installed and checked the backends) never came.
    assert.doesNotMatch(stderr + stdout, /distributed-workers bench/);
  });

  it('when a value is outside what the flag takes, then the script exits 2 saying what it takes', async () => {
    const only = await run('run.ts', ['--quick', '--only', 'post,pots']);
    assert.equal(only.code, 2);
    assert.match(only.stderr, /--only takes some of post,batch,e2e,pickup,get,reads, not "pots"/);
    const jobs = await run('maintenance.ts', ['--jobs', '0']);
    assert.equal(jobs.code, 2);
    assert.match(jobs.stderr, /--jobs takes a whole number of at least 1, not "0"/);
    const missing = await run('steady-rates.ts', ['--rates']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Option '--rates <value>' argument missing/);
  });

  it('when a script takes positionals, then extra ones are refused', async () => {
    const { code, stderr } = await run('profile-top.ts', ['a.cpuprofile', '10', 'more']);
    assert.equal(code, 2);
    assert.match(stderr, /takes FILE\.cpuprofile and, optionally, N/);
  });

  it('when a script opens with a doc comment, then usageOf answers its text without the margins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-bench-args-'));
    try {
      const file = join(dir, 'script.ts');
      writeFileSync(
        file,
        "/**\n * `npm run x`: does x.\n *\n *   --flag N   what it does\n */\nimport 'node:fs';\n",
      );
      assert.equal(
        usageOf(new URL(`file://${file}`).href),
        '`npm run x`: does x.\n\n  --flag N   what it does',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
