import { strict as assert } from 'node:assert';
import { runBench } from './run-bench.js';

const run = runBench;

/** One sample as `perf script -F pid,tid,time,ip,sym,dso` prints it: innermost frame first. */
const sample = (pid: number, tid: number, time: number, frames: [string, string][]) =>
  ` ${pid}/${tid} ${time.toFixed(6)}: \n${frames.map(([sym, dso]) => `\tffff0000 ${sym} (${dso})`).join('\n')}\n\n`;

describe('bench meters', function () {
  // Each case starts a real tsx process.
  this.timeout(60_000);

  it('when perf samples of several threads come in, then perf-split shares them by thread and kind within the window', async () => {
    const js: [string, string] = [
      'JS:*runJob file:///x/dist/src/worker/run-job.js:111:29',
      '/tmp/perf-10.map',
    ];
    const input = [
      // Outside the window (second 0): not counted in the shares.
      sample(10, 10, 100.0, [js]),
      // Second 1: main thread JS ×2, main thread kernel under JS, a helper's scavenge, a helper's compile.
      sample(10, 10, 101.2, [js]),
      sample(10, 10, 101.3, [['Builtins_LoadIC', '/usr/bin/node'], js]),
      sample(10, 10, 101.4, [
        ['tcp_sendmsg_locked', '[kernel.kallsyms]'],
        ['JS:*writeOrBuffer node:internal/streams/writable:548:23', '/tmp/perf-10.map'],
      ]),
      sample(10, 11, 101.5, [['v8::internal::Scavenger::ScavengeObject', '/usr/bin/node']]),
      sample(10, 12, 101.6, [['v8::internal::compiler::GraphReducer::ReduceTop', '/usr/bin/node']]),
      // Another process, not asked for.
      sample(99, 99, 101.7, [js]),
    ].join('');
    const { code, stdout, stderr } = await run(
      'perf-split.ts',
      ['--pids', '10', '--from', '1', '--to', '2'],
      input,
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /samples per second since the first: 0:1 1:5/);
    assert.match(stdout, /window 1–2 s: 5 samples/);
    assert.match(stdout, /40\.0 % {2}main thread: JavaScript, builtins, Node/);
    assert.match(stdout, /20\.0 % {2}main thread: kernel/);
    assert.match(stdout, /20\.0 % {2}helper threads: garbage collection/);
    assert.match(stdout, /20\.0 % {2}helper threads: compiling/);
    assert.match(stdout, /40\.0 % {2}JS:\*runJob/);
    assert.match(stdout, /20\.0 % {2}JS:\*writeOrBuffer/);
  });

  it('when perf-split is not told which processes, or none of them is in the input, then it exits 2', async () => {
    const none = await run('perf-split.ts', []);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--pids is required/);
    const absent = await run('perf-split.ts', ['--pids', '5'], sample(10, 10, 1, [['x', 'y']]));
    assert.equal(absent.code, 2);
    assert.match(absent.stderr, /no samples of pids 5/);
  });

  it("when the worker-path meter runs, then every job stores its outcome and it prints each round's figures, and with --sites the top allocating functions", async () => {
    const { code, stdout, stderr } = await run('worker-path.ts', [
      '--jobs',
      '500',
      '--slots',
      '8',
      '--rounds',
      '1',
      '--sites',
      '3',
    ]);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^round 1: worker path [\d.]+ µs CPU\/job \(GC \d+ %, [\d.]+ KB allocated, [\d,]+ jobs\/s\) {2}vs bare work [\d.]+ µs/m,
    );
    const sites = stdout.split('where the worker path allocates')[1]?.trim().split('\n').slice(1) ?? [];
    assert.equal(sites.length, 3, stdout);
    for (const site of sites) assert.match(site, /^ *[\d,]+ B {2}\S.*:\d+$/);
  });
});
