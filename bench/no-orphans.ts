/**
 * Imported first by every bench entry point: when a bench ends without its orderly stop — an
 * uncaught error, its output pipe closed (`npm run bench | head` ends it with EPIPE), a signal —
 * no server or process it started may outlive it, and no temporary data directory either. Each
 * bench stops its children in `finally`; this is the last resort for the exits that skip it.
 * Before it, `bench/run.ts | head` left a manager, two workers, beanstalkd, FerretDB and
 * redis-server running, and their data under /tmp.
 *
 * On a signal the children get SIGTERM first and up to STOP_GRACE_MS to stop, so a manager or
 * worker started with `--cpu-prof` still writes its profile (Ctrl-C in a terminal already
 * signals them; `kill` or `timeout` signals only the bench).
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { removeUnstoppedDataDirs } from '../src/local/servers.js';

/** How long children get to stop after a signal before they are killed. */
export const STOP_GRACE_MS = 5000;

/** Directories a bench made itself (servers' data dirs are known to src/local/servers.ts). */
const temporaryDirs = new Set<string>();

/** Removes `dir` when the bench exits, however it exits (a bench's own `finally` may too). */
export function removeOnExit(dir: string): string {
  temporaryDirs.add(dir);
  return dir;
}

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

function signalChildren(signal: NodeJS.Signals): void {
  for (const pid of childPids()) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

// Synchronous, as 'exit' handlers must be; it also runs after an uncaught error.
process.on('exit', () => {
  signalChildren('SIGKILL');
  removeUnstoppedDataDirs();
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    // A second signal does not wait: the exit handler kills what is left.
    if (stopping) process.exit(128 + constants.signals[signal]);
    stopping = true;
    signalChildren('SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    const poll = setInterval(() => {
      if (childPids().length > 0 && Date.now() < deadline) return;
      clearInterval(poll);
      process.exit(128 + constants.signals[signal]);
    }, 50);
  });
}
