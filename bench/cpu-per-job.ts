/**
 * CPU milliseconds per job for each process, the figure that compares two systems whose
 * processes differ: bench/cpu.ts says the share of a core, this divides the same /proc
 * counters by the jobs done.
 */
import { readFileSync } from 'node:fs';
import { cpuSeconds, type Processes, TICKS_PER_SECOND } from './cpu.js';
import { fmt } from './format.js';

/** CPU seconds the whole machine spent busy (all cores, every process), from /proc/stat. */
function machineSeconds(): number {
  const [, ...ticks] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks.map(Number);
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/** What else ran meanwhile: the machine's busy time less the processes listed. */
export const REST = 'rest of the machine';

/** CPU seconds per process, and under REST those of everything else on the machine. */
export type CpuUsed = Record<string, number>;

/** Starts counting; the returned function gives each process's CPU seconds since then. */
export function countCpu(processes: () => Processes): () => CpuUsed {
  const before = Object.fromEntries(
    Object.entries(processes()).map(([name, pid]) => [name, cpuSeconds(pid)]),
  );
  const machineBefore = machineSeconds();
  return () => {
    const used: CpuUsed = Object.fromEntries(
      Object.entries(processes())
        .map(([name, pid]) => [name, cpuSeconds(pid) - (before[name] ?? 0)] as const)
        .filter(([, seconds]) => Number.isFinite(seconds)),
    );
    const listed = Object.values(used).reduce((a, b) => a + b, 0);
    used[REST] = Math.max(0, machineSeconds() - machineBefore - listed);
    return used;
  };
}

const own = (used: CpuUsed) => Object.entries(used).filter(([name]) => name !== REST);

/** The CPU ms per job of the listed processes together. */
export const totalMsPerJob = (used: CpuUsed, jobs: number) =>
  (1000 * own(used).reduce((sum, [, seconds]) => sum + seconds, 0)) / jobs;

/**
 * `manager 0.31, worker0 0.10, … = 0.52 (rest of the machine 0.20)`: ms per job, processes
 * that used none left out; the rest is what other work on the machine took meanwhile.
 */
export function msPerJob(used: CpuUsed, jobs: number): string {
  const each = own(used)
    .filter(([, seconds]) => seconds > 0)
    .map(([name, seconds]) => `${name} ${fmt((1000 * seconds) / jobs, 2)}`);
  const rest = used[REST];
  const restText = rest === undefined ? '' : ` (${REST} ${fmt((1000 * rest) / jobs, 2)})`;
  return `${each.join(', ')} = ${fmt(totalMsPerJob(used, jobs), 2)}${restText}`;
}

/** The share of a core the rest of the machine used over `seconds`, e.g. `rest of the machine 12%`. */
export const restShare = (used: CpuUsed, seconds: number) =>
  `${REST} ${Math.round((100 * (used[REST] ?? 0)) / seconds)}%`;
