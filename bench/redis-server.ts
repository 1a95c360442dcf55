/**
 * The Redis behind the bench's BullMQ peer: Debian's redis-server (installed by
 * bench/install-redis.sh when missing) on a free port with a temporary directory and no
 * persistence, started and stopped by the bench like its beanstalkd and FerretDB.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type LocalServer, startProcess } from '../src/local/servers.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Installs redis-server with apt-get when it is not on this machine. */
export function installRedis(): void {
  execFileSync('bash', [join(here, 'install-redis.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** `7.0.15`, from `redis-server --version`. */
export function redisVersion(): string {
  const text = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(text)?.[1] ?? 'unknown';
}

/** redis-server without RDB snapshots or an append-only file, on 127.0.0.1 and a free port. */
export async function startRedis(): Promise<LocalServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'dw-bench-redis-'));
  const binary = existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';
  return startProcess(
    'redis-server',
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dataDir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
    port,
    dataDir,
    false,
  );
}
