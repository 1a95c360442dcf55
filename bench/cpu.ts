/**
 * CPU time per process from /proc, so that each bench figure can say what limited it: the
 * share of a core each process used during a phase (2 cores = 200 %).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's counters. */
export const TICKS_PER_SECOND = 100;

/** utime + stime of a process in seconds; NaN once it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export type Processes = Record<string, number | undefined>;

/** Starts a measurement; the returned function says each process's CPU share since then. */
export function measureCpu(processes: () => Processes): () => string {
  const t0 = performance.now();
  const before = Object.fromEntries(
    Object.entries(processes()).map(([name, pid]) => [name, cpuSeconds(pid)]),
  );
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    return Object.entries(processes())
      .map(([name, pid]) => {
        const used = cpuSeconds(pid) - (before[name] ?? 0);
        return Number.isFinite(used) ? `${name} ${Math.round((100 * used) / seconds)}%` : '';
      })
      .filter(Boolean)
      .join(', ');
  };
}
