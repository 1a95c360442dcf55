/**
 * Imported first by every bench entry point: when a bench ends without its orderly stop — an
 * uncaught error, its output pipe closed (`npm run bench | head` ends it with EPIPE), a signal —
 * no server or process it started may outlive it. Each bench stops its children in `finally`;
 * this is the last resort for the exits that skip it. Before it, `bench/run.ts | head` left a
 * manager, two workers, beanstalkd, FerretDB and redis-server running.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';

/** This process's live children, from /proc (the bench reads /proc for CPU anyway). */
export function childPids(parent = process.pid): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return pids;
}

function killChildren(): void {
  for (const pid of childPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

// Synchronous, as 'exit' handlers must be; it also runs after an uncaught error.
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => process.exit(128 + constants.signals[signal]));
}
