/**
 * Mongo Express for the local stack: installed on first use into the cache (beside FerretDB)
 * from deploy/mongo-express/package-lock.json, started with deploy/mongo-express/start.cjs —
 * the image's own launcher — on a free 127.0.0.1 port against the stack's database, behind
 * basic auth with a password that is random per run unless one is given.
 *
 * It is not in the project's package.json on purpose: 1.0.0 pulls 234 packages, many of them
 * old (express 4.18, the mongodb 4 driver, csurf, swig-templates), which every install of this
 * project and its app image would then fetch, audit and ship for a tool only `up` and the
 * stack's Mongo Express image run. The version is pinned with its whole tree by that lock
 * file; 1.0.2, the newest, cannot install from npm (a GitHub-hosted dependency).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, freePort, type LocalServer, startProcess } from './servers.js';

export const MONGO_EXPRESS_VERSION = '1.0.0';
export const MONGO_EXPRESS_USER = 'admin';

// src/local/ when run from source, dist/src/local/ when built.
const here = dirname(fileURLToPath(import.meta.url));
const projectRoots = [resolve(here, '..', '..'), resolve(here, '..', '..', '..')];

function deployDir(): string {
  for (const root of projectRoots) {
    const dir = join(root, 'deploy', 'mongo-express');
    if (existsSync(join(dir, 'package-lock.json'))) return dir;
  }
  throw new Error('deploy/mongo-express/package-lock.json not found');
}

/** Where it is installed: named by version and lock file, so a changed lock installs anew. */
export function mongoExpressDir(): string {
  const lock = readFileSync(join(deployDir(), 'package-lock.json'));
  const key = createHash('sha256').update(lock).digest('hex').slice(0, 12);
  return join(cacheDir(), `mongo-express-${MONGO_EXPRESS_VERSION}-${key}`);
}

export function mongoExpressInstalled(): boolean {
  return existsSync(join(mongoExpressDir(), 'node_modules', 'mongo-express', 'app.js'));
}

/**
 * `npm ci` of the pinned tree into the cache, once (about 15 s): into a temporary directory
 * first, renamed into place when complete, so an interrupted install is never half-used.
 */
export async function installMongoExpress(): Promise<void> {
  if (mongoExpressInstalled()) return;
  const target = mongoExpressDir();
  mkdirSync(dirname(target), { recursive: true });
  const work = mkdtempSync(`${target}.tmp-`);
  try {
    for (const file of ['package.json', 'package-lock.json'])
      copyFileSync(join(deployDir(), file), join(work, file));
    // --ignore-scripts: nothing in the tree needs one (its web assets ship prebuilt).
    const args = ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
    const npm = spawn('npm', args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    npm.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const outcome = await new Promise<string | undefined>((done) => {
      npm.once('error', (error) => done(error.message));
      npm.once('close', (code, signal) =>
        done(code === 0 ? undefined : `npm ci: ${signal ?? `exit ${code}`}`),
      );
    });
    if (outcome !== undefined) throw new Error(`installing Mongo Express failed (${outcome})\n${stderr}`);
    if (existsSync(target)) return; // another run installed it meanwhile
    renameSync(work, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface MongoExpressOptions {
  /** The database to show, in the URL's path (mongodb://host:port/db). */
  mongoUrl: string;
  /** The basic-auth password; a random one when absent. */
  password?: string;
  ownProcessGroup?: boolean;
  /** The environment it starts from (other ME_CONFIG_* options pass through). */
  env: NodeJS.ProcessEnv;
}

export interface MongoExpressServer extends LocalServer {
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  readonly user: string;
  readonly password: string;
}

/**
 * Starts it (installed first with installMongoExpress) and resolves once it listens, which
 * it does only after it has connected to MongoDB.
 */
export async function startMongoExpress(options: MongoExpressOptions): Promise<MongoExpressServer> {
  const port = await freePort();
  const password = options.password ?? randomBytes(16).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    // Without the admin switch it shows the one database named in the URL, which is all the
    // stack has: no listDatabases on every page, no admin, config or local databases.
    ME_CONFIG_MONGODB_URL: options.mongoUrl,
    ME_CONFIG_MONGODB_ENABLE_ADMIN: 'false',
    ME_CONFIG_BASICAUTH_USERNAME: MONGO_EXPRESS_USER,
    ME_CONFIG_BASICAUTH_PASSWORD: password,
    VCAP_APP_HOST: '127.0.0.1',
    PORT: String(port),
  };
  // Each of these would override the settings above (a set SERVER drops the URL).
  for (const name of [
    'ME_CONFIG_MONGODB_SERVER',
    'ME_CONFIG_BASICAUTH_USERNAME_FILE',
    'ME_CONFIG_BASICAUTH_PASSWORD_FILE',
  ])
    delete env[name];
  const server = await startProcess(
    'mongo-express',
    process.execPath,
    [join(deployDir(), 'start.cjs'), mongoExpressDir()],
    port,
    undefined,
    true,
    options.ownProcessGroup,
    env,
  );
  return Object.assign(server, { url: `http://127.0.0.1:${port}/`, user: MONGO_EXPRESS_USER, password });
}

/** Its page for one document of `collection`: the id as a JSON string, URL-encoded (1.0.0's scheme). */
export function mongoExpressDocumentUrl(base: string, db: string, collection: string, id: string): string {
  return `${base}db/${encodeURIComponent(db)}/${encodeURIComponent(collection)}/${encodeURIComponent(JSON.stringify(id))}`;
}
