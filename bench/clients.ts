/** The bench's clients: spawned CLI processes, HTTP load, batch posting, and result counts. */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { MongoClient } from 'mongodb';
import { nodeFlagsFor } from '../src/local/node-flags.js';

/**
 * A node process running `args`. Our CLI (dist/index.js) gets the flags its role ships with
 * (src/local/node-flags.ts) in NODE_OPTIONS, ahead of BENCH_NODE_OPTIONS and then its role's
 * BENCH_MANAGER_NODE_OPTIONS or BENCH_WORKER_NODE_OPTIONS, which can override them: the last of
 * two V8 flags wins. Other scripts (BullMQ's processes) get node's defaults.
 */
export function spawnNode(args: string[], env: Record<string, string>, profileDir?: string): ChildProcess {
  const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const ours = /(^|[\\/])dist[\\/]index\.js$/.test(args[0] ?? '');
  const shipped = ours ? nodeFlagsFor(args[1]) : [];
  // Flags NODE_OPTIONS refuses (--trace-gc) go on the command line (bench/run.ts's header).
  const extra = ours ? (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((flag) => flag !== '') : [];
  const keepDir = ours ? process.env.BENCH_STDOUT_DIR : undefined;
  const out = keepDir ? openSync(`${keepDir}/${args[1] ?? 'node'}-${Date.now()}.log`, 'w') : 'ignore';
  const child = spawn(process.execPath, [...profiling, ...extra, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_OPTIONS: [
        ...shipped,
        process.env.BENCH_NODE_OPTIONS ?? '',
        roleOptions(ours ? args[1] : undefined),
      ]
        .join(' ')
        .trim(),
      ...env,
    },
    stdio: ['ignore', out, 'inherit'],
  });
  // The child holds its own copy of the file.
  if (typeof out === 'number') closeSync(out);
  return child;
}

/** BENCH_MANAGER_NODE_OPTIONS or BENCH_WORKER_NODE_OPTIONS for a process of that role: after BENCH_NODE_OPTIONS. */
function roleOptions(role: string | undefined): string {
  if (role === 'manager') return process.env.BENCH_MANAGER_NODE_OPTIONS ?? '';
  if (role === 'worker') return process.env.BENCH_WORKER_NODE_OPTIONS ?? '';
  return '';
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

/** A process's resident memory now, in MB (from /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

export function peakRssMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Seconds of untimed load every measure starts with, ours and BullMQ's alike (`warmUp`): a
 * process measured from its start pays for V8 compiling its hot paths, on helper threads that
 * count in its CPU time. With `--trace-opt` the manager under POST load compiled about 75 % of
 * what it compiles in the first 5 s and was still compiling 20–50 functions a second at 10 s
 * (2026-12-02); with 2 s of warm-up a quick run measured the manager at 1.36 ms of CPU per POST,
 * with 8 s at 0.82 (BullMQ's Koa route 0.25 → 0.20).
 */
export const WARM_UP_SECONDS = 8;

/** Runs `round` again and again, untimed, until `seconds` have passed (at least once). */
export async function warmUp(seconds: number, round: () => Promise<unknown>): Promise<void> {
  const until = performance.now() + seconds * 1000;
  do await round();
  while (performance.now() < until);
}

/**
 * autocannon's load on `url` for `seconds`, 32 connections; with `paths`, the requests take them
 * in turn (the same host), e.g. different jobs, so that no answer is one read shared by many.
 */
export async function cannon(
  url: string,
  method: 'GET' | 'POST',
  seconds: number,
  body?: string,
  paths?: readonly string[],
) {
  let turn = 0;
  const result = await autocannon({
    url,
    method,
    connections: 32,
    duration: seconds,
    ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
    ...(paths && paths.length > 0
      ? {
          requests: [
            {
              setupRequest: (request: autocannon.Request) => {
                turn = (turn + 1) % paths.length;
                return { ...request, path: paths[turn] ?? '/' };
              },
            },
          ],
        }
      : {}),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
  };
}

export const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

/** One POST over a kept-alive connection (fetch costs the sender more CPU per request). */
export function postKeepAlive(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () =>
          res.statusCode === 202 ? resolve(text) : reject(new Error(`POST answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Calls `send(i)` at a steady `perSecond` for `seconds` from 16 clients: when each job was sent
 * (by the id `send` resolves to) and how long each send took to answer, in ms, ascending.
 */
export async function sendSteadily(perSecond: number, seconds: number, send: (i: number) => Promise<string>) {
  const sent = new Map<string, number>();
  const answered: number[] = [];
  const t0 = Date.now();
  let n = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (;;) {
        const i = n++;
        const due = t0 + (i * 1000) / perSecond;
        if (due > t0 + seconds * 1000) return;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const at = Date.now();
        sent.set(await send(i), at);
        answered.push(Date.now() - at);
      }
    }),
  );
  answered.sort((a, b) => a - b);
  return { sent, answered };
}

/** sendSteadily of POSTs of `{"steady":i}` to `url`. */
export function postSteadily(url: string, perSecond: number, seconds: number) {
  return sendSteadily(perSecond, seconds, async (i) => {
    const { id } = JSON.parse(await postKeepAlive(url, `{"steady":${i}}`)) as { id: string };
    return id;
  });
}

/**
 * Each sent job's pickup, in ms ascending: its handler's start (its outcome's `startedAt`) less
 * when it was sent. Waits up to a minute for every outcome, then throws if some are missing.
 */
export async function pickupsOf(mongoUrl: string, db: string, sent: Map<string, number>): Promise<number[]> {
  const client = new MongoClient(mongoUrl);
  try {
    const ids = [...sent.keys()];
    let started: Array<{ _id: string; startedAt: Date }> = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      started = await client
        .db(db)
        .collection<{ _id: string; startedAt: Date }>('results')
        .find({ _id: { $in: ids } }, { projection: { startedAt: 1 } })
        .toArray();
      if (started.length === ids.length) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // A pickup figure over the jobs that did run would hide the ones that did not.
    if (started.length < ids.length) {
      throw new Error(`${ids.length - started.length} of ${ids.length} jobs had not started after a minute`);
    }
    return started.map((r) => r.startedAt.getTime() - (sent.get(r._id) ?? 0)).sort((a, b) => a - b);
  } finally {
    await client.close();
  }
}

/** Posts NDJSON lines 1,000 per request, `inFlight` requests at a time. */
export async function postBatches(url: string, lines: string[], inFlight: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next; i < lines.length; i = next) {
        next += 1000;
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-ndjson' },
          body: lines.slice(i, i + 1000).join('\n'),
        });
        if (res.status !== 202) throw new Error(`batch answered ${res.status}`);
        await res.arrayBuffer();
      }
    }),
  );
}

/** The different finished jobs the GET row reads in turn (ours and BullMQ's). */
export const JOBS_READ = 1000;

/** Up to `count` ids of stored outcomes (bench's database). */
export async function someResultIds(url: string, count: number): Promise<string[]> {
  const client = new MongoClient(url);
  try {
    const docs = await client
      .db('bench')
      .collection<{ _id: string }>('results')
      .find({}, { projection: { _id: 1 } })
      .limit(count)
      .toArray();
    return docs.map((doc) => doc._id);
  } finally {
    await client.close();
  }
}

export async function countResults(url: string, db: string): Promise<number> {
  const client = new MongoClient(url);
  try {
    return await client.db(db).collection('results').countDocuments();
  } finally {
    await client.close();
  }
}
