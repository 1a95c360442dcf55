/**
 * The Redis behind the bench's BullMQ peer: Debian's redis-server (installed by
 * bench/install-redis.sh when missing) on a free port with a temporary directory, without
 * persistence unless asked (`--peer-fsync`), started and stopped by the bench like its
 * beanstalkd and FerretDB.
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

/** How the peer's Redis keeps its writes: not at all, or in an append-only file synced so. */
export type RedisFsync = 'none' | 'everysec' | 'always';

/**
 * redis-server on 127.0.0.1 and a free port, without RDB snapshots; with `fsync` other than
 * `none`, with an append-only file in its temporary directory, synced every second or at every
 * write (Redis's `appendfsync`).
 */
export async function startRedis(fsync: RedisFsync = 'none'): Promise<LocalServer> {
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
      ...(fsync === 'none' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', fsync]),
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
