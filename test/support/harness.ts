/** Shared test helpers: the servers global-setup started, isolation, waiting, processes. */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = join(projectRoot, 'dist', 'index.js');

export function backends() {
  const host = process.env.DW_TEST_BEANSTALK_HOST;
  const port = Number(process.env.DW_TEST_BEANSTALK_PORT);
  const mongoUrl = process.env.DW_TEST_MONGO_URL;
  if (!host || !port || !mongoUrl) throw new Error('test backends not started (global-setup.ts)');
  return { beanstalk: { host, port }, mongoUrl };
}

/** The environment a manager or worker process needs to use the test servers with its own tubes and database. */
export function backendEnv(iso: { dbName: string; tubePrefix: string }): Record<string, string> {
  const servers = backends();
  return {
    BEANSTALK_HOST: servers.beanstalk.host,
    BEANSTALK_PORT: String(servers.beanstalk.port),
    MONGO_URL: servers.mongoUrl,
    MONGO_DB: iso.dbName,
    QUEUE_TUBE_PREFIX: iso.tubePrefix,
  };
}

/** A name no other test uses: for a tube prefix and a database. */
export function uniqueName(label: string): string {
  return `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}_${label}`.slice(0, 40);
}

/** Isolation for one test: its own tube prefix and database. */
export function isolation(label: string) {
  const name = uniqueName(label.replace(/[^A-Za-z0-9]/g, ''));
  return { tubePrefix: `${name}.`, dbName: name };
}

/** Polls `check` until it returns a value other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error: unknown) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * One raw beanstalkd command on its own socket, independent of the code under test: used
 * to check queue state. Returns the reply line and, for replies with a body, the body.
 */
export async function beanstalkRaw(
  port: number,
  line: string,
  timeoutMs = 3000,
): Promise<{ reply: string; body?: string }> {
  return new Promise((done, fail) => {
    const socket = new Socket();
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`no answer to ${JSON.stringify(line)}`));
    }, timeoutMs);
    const finish = (value: { reply: string; body?: string }) => {
      clearTimeout(timer);
      socket.end('quit\r\n');
      socket.destroy();
      done(value);
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n');
      if (end < 0) return;
      const reply = buffer.subarray(0, end).toString('ascii');
      const withBody = /^(OK|FOUND \d+|RESERVED \d+) (\d+)$/.exec(reply) ?? /^(OK) (\d+)$/.exec(reply);
      if (!withBody) return finish({ reply });
      const length = Number(withBody[2]);
      if (buffer.length < end + 2 + length + 2) return;
      finish({ reply, body: buffer.subarray(end + 2, end + 2 + length).toString('utf8') });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    socket.connect(port, '127.0.0.1', () => socket.write(`${line}\r\n`));
  });
}

/**
 * Jobs in a tube by state, read with a raw `stats-tube`; zeros when the tube does not exist.
 * `current` is what it holds now; `total` counts every job ever put in it.
 */
export async function tubeCounts(port: number, tube: string) {
  const { reply, body } = await beanstalkRaw(port, `stats-tube ${tube}`);
  if (reply === 'NOT_FOUND') return { ready: 0, reserved: 0, delayed: 0, buried: 0, current: 0, total: 0 };
  const field = (name: string) =>
    Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(body ?? '')?.[1] ?? Number.NaN);
  const counts = {
    ready: field('current-jobs-ready'),
    reserved: field('current-jobs-reserved'),
    delayed: field('current-jobs-delayed'),
    buried: field('current-jobs-buried'),
  };
  return {
    ...counts,
    current: counts.ready + counts.reserved + counts.delayed + counts.buried,
    total: field('total-jobs'),
  };
}

/** A MongoClient on the test server, for reading stored state directly. */
export async function withMongo<T>(
  dbName: string,
  fn: (db: ReturnType<MongoClient['db']>) => Promise<T>,
): Promise<T> {
  const client = new MongoClient(backends().mongoUrl, { serverSelectionTimeoutMS: 5000 });
  try {
    return await fn(client.db(dbName));
  } finally {
    await client.close();
  }
}

export async function dropDatabase(dbName: string): Promise<void> {
  await withMongo(dbName, (db) => db.dropDatabase()).catch(() => undefined);
}

export interface SpawnedCli {
  child: ChildProcess;
  /** Every stdout/stderr line so far. */
  lines: string[];
  /** stdout lines that parse as JSON log records. */
  records(): Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const spawned = new Set<SpawnedCli>();

/** Runs the built CLI as a real process; `stopAllSpawned` ends whatever a test left. */
export function spawnCli(args: string[], env: Record<string, string>): SpawnedCli {
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  const handle: SpawnedCli = {
    child,
    lines,
    records: () =>
      lines.flatMap((line) => {
        try {
          const value: unknown = JSON.parse(line);
          return value && typeof value === 'object' ? [value as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      spawned.delete(handle);
    },
  };
  spawned.add(handle);
  void exited.then(() => spawned.delete(handle));
  return handle;
}

export async function stopAllSpawned(): Promise<void> {
  await Promise.all([...spawned].map((handle) => handle.stop('SIGKILL')));
}

export interface TcpProxy {
  port: number;
  /** Drops every open connection (both sides), as a network blip would; new ones still work. */
  cutAll(): void;
  /**
   * The next `put` goes through to beanstalkd, and the connection carrying it is cut before
   * the reply comes back: a put in doubt. Afterwards new connections are refused while
   * `refuseAfter` is set, until `pass()`.
   */
  cutAfterNextPut(options?: { refuseAfter?: boolean }): void;
  /** Lets new connections through again. */
  pass(): void;
  /**
   * The next `put` and whatever follows it on its connection wait in the proxy until
   * `release()`; `held` settles once such a put has arrived.
   */
  holdNextPut(): { held: Promise<void>; release(): void };
  close(): Promise<void>;
}

/** Sees what a proxy passes, per connection (numbered from 1), without changing it. */
export interface ProxyTap {
  /** Bytes the client sent and the proxy forwarded. */
  sent(connection: number, chunk: Buffer): void;
  /** Bytes the target answered and the proxy forwarded. */
  received(connection: number, chunk: Buffer): void;
  closed(connection: number): void;
}

/** A loopback TCP proxy to `targetPort`, so a test can cut one process's connections. */
export async function startTcpProxy(targetPort: number, tap?: ProxyTap): Promise<TcpProxy> {
  const { createServer, connect } = await import('node:net');
  const pairs = new Set<[Socket, Socket]>();
  let cutNextPut: { refuseAfter: boolean } | undefined;
  let holdNext: { arrived: () => void; release: Promise<void> } | undefined;
  let refusing = false;
  let connections = 0;
  const server = createServer((client) => {
    if (refusing) {
      client.on('error', () => undefined);
      client.destroy();
      return;
    }
    const connection = ++connections;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    let cutOnReply = false;
    let open = true;
    let holding: Buffer[] | undefined;
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
      if (open) tap?.closed(connection);
      open = false;
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      if (holding) {
        holding.push(chunk);
        return;
      }
      if (holdNext && /(^|\r\n)put /.test(chunk.toString('latin1'))) {
        const held: Buffer[] = [chunk];
        holding = held;
        const { arrived, release } = holdNext;
        holdNext = undefined;
        arrived();
        void release.then(() => {
          holding = undefined;
          for (const part of held) {
            upstream.write(part);
            tap?.sent(connection, part);
          }
        });
        return;
      }
      if (cutNextPut && /(^|\r\n)put /.test(chunk.toString('latin1'))) {
        cutOnReply = true;
        refusing = cutNextPut.refuseAfter;
        cutNextPut = undefined;
      }
      upstream.write(chunk);
      tap?.sent(connection, chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutOnReply) drop();
      else {
        client.write(chunk);
        tap?.received(connection, chunk);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const cutAll = () => {
    for (const [client, upstream] of [...pairs]) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    cutAll,
    cutAfterNextPut(options = {}) {
      cutNextPut = { refuseAfter: options.refuseAfter ?? false };
    },
    pass() {
      refusing = false;
    },
    holdNextPut() {
      let arrived: () => void = () => undefined;
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      holdNext = {
        arrived: () => arrived(),
        release: new Promise<void>((resolve) => {
          release = resolve;
        }),
      };
      return { held, release: () => release() };
    },
    async close() {
      cutAll();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A TCP server that accepts connections and never answers: a hung beanstalkd. */
export interface SilentServer {
  port: number;
  /** Connections open now (a client that gave up has closed its own). */
  readonly sockets: ReadonlySet<Socket>;
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const { createServer } = await import('node:net');
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.resume(); // read and drop: never answer
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    sockets,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
