/** Process-tree checks read from /proc, independent of the code under test (Linux). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** R, S, D, Z (exited, not yet reaped), … */
  state: string;
  /** Clock ticks since boot when it started: tells a live process from a later one given the same pid. */
  startTime: string;
  command: string;
}

function readStat(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid: Number(fields[1]), state: fields[0] ?? '', startTime: fields[19] ?? '', command };
  } catch {
    return undefined;
  }
}

/** Every process whose parent chain leads to `root` (not `root` itself). */
export function descendants(root: number): ProcessInfo[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readStat(Number(name)) ?? []);
  const found: ProcessInfo[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const children = all.filter((info) => frontier.includes(info.ppid));
    found.push(...children);
    frontier = children.map((info) => info.pid);
  }
  return found;
}

/** True while that very process runs (an exited one waiting to be reaped does not count). */
export function stillRunning(info: ProcessInfo): boolean {
  if (!existsSync(`/proc/${info.pid}`)) return false;
  const now = readStat(info.pid);
  return now !== undefined && now.startTime === info.startTime && now.state !== 'Z';
}
