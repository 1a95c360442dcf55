/**
 * `npx tsx bench/perf-split.ts --pids P1,P2 [--from S] [--to S] [--top N] < perf-script.txt`:
 * where some processes' CPU went, from a system-wide `perf` profile — the garbage collector,
 * V8's compilers, the kernel, or the rest (JavaScript, V8's builtins, Node's C++), each on the
 * main thread or on V8's helper threads — and which JavaScript function was running on the main
 * thread. A V8 CPU profile (`--cpu-prof`) sees the main thread only, and shows helper threads'
 * garbage collection and compilation not at all; `perf` sees every thread and the kernel.
 *
 * Recipe (Debian's `linux-perf`; node's `--perf-basic-prof` names the JIT's frames):
 *
 *   perf record -F 999 -a -g -o /tmp/perf.data &
 *   BENCH_NODE_ARGS=--perf-basic-prof npx tsx bench/run.ts --quick --only e2e --no-peer --binlog none
 *   kill -INT %1
 *   perf script -i /tmp/perf.data -F pid,tid,time,ip,sym,dso > /tmp/perf.txt
 *   npx tsx bench/perf-split.ts --pids <the workers' pids> --from 19 --to 21 < /tmp/perf.txt
 *
 * The workers' pids are those of the `/tmp/perf-<pid>.map` files the run left (the manager's
 * is the first); `--from`/`--to` are seconds after these processes' first sample (with no
 * window, the whole run, warm-up included; the samples per second are printed to find one).
 *
 *   --pids P1,P2   the processes to count (required)
 *   --from S       the window's start, seconds after their first sample (default 0)
 *   --to S         the window's end (default: the end)
 *   --top N        how many main-thread functions to list (default 25)
 */
import { createInterface } from 'node:readline';
import { badArgs, benchArgs, wholeNumber } from './args.js';

const { values: flags } = benchArgs(import.meta.url, {
  pids: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  top: { type: 'string' },
});
if (flags.pids === undefined) badArgs(import.meta.url, '--pids is required');
const pids = new Set(flags.pids.split(','));
const from = wholeNumber(import.meta.url, 'from', flags.from, 0);
const to = wholeNumber(import.meta.url, 'to', flags.to, Number.MAX_SAFE_INTEGER);
const top = wholeNumber(import.meta.url, 'top', flags.top, 25, 1);

interface Sample {
  time: number;
  main: boolean;
  frames: { sym: string; dso: string }[];
}

const HEADER = /^\s*(\d+)\/(\d+)\s+([\d.]+):/;
const FRAME = /^\t\s*[0-9a-f]+ (.*) \((.*)\)$/;
const COMPILE = /compiler::|Compile|TurboFan|Maglev|Sparkplug|baseline::/;
const GC = /Scavenge|MarkCompact|Heap::Collect|Sweeper|ConcurrentMarking|Evacuat|Marking/;

const samples: Sample[] = [];
let current: Sample | undefined;
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.startsWith('\t')) {
    const frame = FRAME.exec(line);
    if (current && frame) current.frames.push({ sym: frame[1] ?? '', dso: frame[2] ?? '' });
    continue;
  }
  const header = HEADER.exec(line);
  current = undefined;
  if (header && pids.has(header[1] ?? '')) {
    current = { time: Number(header[3]), main: header[1] === header[2], frames: [] };
    samples.push(current);
  }
}
if (samples.length === 0) badArgs(import.meta.url, `no samples of pids ${flags.pids} on stdin`);

/** What a sample was doing, by its whole stack: the compilers and the collector win over the rest. */
function kindOf(sample: Sample): string {
  const stack = sample.frames.map((frame) => frame.sym).join(' ');
  if (COMPILE.test(stack)) return 'compiling';
  if (GC.test(stack)) return 'garbage collection';
  if (sample.frames[0]?.dso.includes('kernel')) return 'kernel';
  return 'JavaScript, builtins, Node';
}

const first = Math.min(...samples.map((sample) => sample.time));
const perSecond = new Map<number, number>();
for (const sample of samples) {
  const second = Math.floor(sample.time - first);
  perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
}
const say = (text: string) => process.stdout.write(`${text}\n`);
// Piped into `head`: stop quietly when the reader has had enough.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});
say(`samples per second since the first: ${[...perSecond].map(([s, n]) => `${s}:${n}`).join(' ')}`);

const window = samples.filter((sample) => sample.time - first >= from && sample.time - first < to);
const share = (n: number) => `${((100 * n) / window.length).toFixed(1).padStart(5)} %`;
say(`window ${from}–${to === Number.MAX_SAFE_INTEGER ? 'end' : to} s: ${window.length} samples`);
const kinds = new Map<string, number>();
const running = new Map<string, number>();
for (const sample of window) {
  const key = `${sample.main ? 'main thread' : 'helper threads'}: ${kindOf(sample)}`;
  kinds.set(key, (kinds.get(key) ?? 0) + 1);
  if (!sample.main) continue;
  const js = sample.frames.find((frame) => frame.sym.startsWith('JS:'));
  const name = js ? js.sym.slice(0, 110) : `(no JavaScript frame: ${sample.frames.at(-1)?.sym ?? '?'})`;
  running.set(name, (running.get(name) ?? 0) + 1);
}
for (const [key, n] of [...kinds].sort((a, b) => b[1] - a[1])) say(`${share(n)}  ${key}`);
say(`main thread, by the innermost JavaScript function on the stack:`);
for (const [name, n] of [...running].sort((a, b) => b[1] - a[1]).slice(0, top)) say(`${share(n)}  ${name}`);
