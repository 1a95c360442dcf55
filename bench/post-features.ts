/**
 * `npx tsx bench/post-features.ts [--seconds N] [--rounds N]` (`npm run bench:post-features`):
 * what the manager's optional request features cost a `POST /jobs` — its log level, an API key,
 * a rate limit — measured as the manager's CPU per POST under the bench's load (autocannon, 32
 * connections, the body `{"example":"data"}`), each setup in a manager of its own, the setups
 * alternating round after round against one beanstalkd and one FerretDB (or mongod on the PATH).
 * Every setup warms up for 8 s of the same load first, as `npm run bench` does; the setups'
 * medians are compared, since one round's figures move by a tenth from run to run. What is always on
 * (the metrics middleware, validation, id minting) has no switch: its share shows in a CPU
 * profile (`npm run bench -- --only post --cpu-prof DIR`, then
 * `npx tsx bench/profile-top.ts --by-file FILE`). Runs the build (`npm run build` first).
 *
 *   --seconds N  measured seconds per setup and round (default 10)
 *   --rounds N   rounds (default 5; each starts one setup later than the one before)
 *
 * The setups: `LOG_LEVEL=warn` (as `npm run bench` runs the manager: the baseline), `info` (the
 * default), `debug` (one line per request, to /dev/null), an API key sent as a bearer token, and
 * the key with `RATE_LIMIT_PER_MINUTE` high enough never to refuse.
 */
import './no-orphans.js';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import {
  freePort,
  installBackends,
  type LocalServer,
  startBeanstalkd,
  startMongoServer,
  waitForPort,
} from '../src/local/servers.js';
import { benchArgs, wholeNumber } from './args.js';
import { spawnNode, stop, WARM_UP_SECONDS } from './clients.js';
import { cpuSeconds } from './cpu.js';
import { fmt } from './format.js';

const { values: flags } = benchArgs(import.meta.url, {
  seconds: { type: 'string' },
  rounds: { type: 'string' },
});
const seconds = wholeNumber(import.meta.url, 'seconds', flags.seconds, 10, 1);
const rounds = wholeNumber(import.meta.url, 'rounds', flags.rounds, 5, 1);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'index.js');
const BODY = '{"example":"data"}';
const key = randomBytes(24).toString('hex');
const bearer = { authorization: `Bearer ${key}` };

interface Setup {
  name: string;
  env: Record<string, string>;
  headers?: Record<string, string>;
}
const SETUPS: Setup[] = [
  { name: 'LOG_LEVEL=warn (the bench)', env: { LOG_LEVEL: 'warn' } },
  { name: 'LOG_LEVEL=info (the default)', env: { LOG_LEVEL: 'info' } },
  { name: 'LOG_LEVEL=debug (a line per request)', env: { LOG_LEVEL: 'debug' } },
  { name: 'an API key', env: { LOG_LEVEL: 'warn', API_KEYS: `bench:${key}` }, headers: bearer },
  {
    name: 'an API key and a rate limit',
    env: { LOG_LEVEL: 'warn', API_KEYS: `bench:${key}`, RATE_LIMIT_PER_MINUTE: '10000000' },
    headers: bearer,
  },
];

interface Figure {
  rps: number;
  cpuUsPerPost: number;
  p50: number;
  p99: number;
}

async function load(url: string, headers: Record<string, string>, duration: number) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: 32,
    duration,
    body: BODY,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return result;
}

/** One setup in a manager of its own: warm-up, then the measured seconds. */
async function measure(
  setup: Setup,
  backends: { beanstalkd: LocalServer; mongo: LocalServer & { url: string } },
) {
  const port = await freePort();
  const manager = spawnNode([cli, 'manager'], {
    BEANSTALK_PORT: String(backends.beanstalkd.port),
    MONGO_URL: backends.mongo.url,
    MONGO_DB: 'bench-post-features',
    RECONCILE_INTERVAL_SECONDS: '0',
    MANAGER_LISTEN_PORT: String(port),
    MANAGER_LISTEN_HOST: '127.0.0.1',
    // No worker serves this type: its jobs stay queued.
    JOB_TYPES: 'hash,benchhttp',
    ...setup.env,
  });
  try {
    await waitForPort(port, 30_000, manager);
    const url = `http://127.0.0.1:${port}/jobs?type=benchhttp`;
    const headers = setup.headers ?? {};
    await load(url, headers, WARM_UP_SECONDS);
    const before = cpuSeconds(manager.pid);
    const run = await load(url, headers, seconds);
    const used = cpuSeconds(manager.pid) - before;
    if (run.non2xx > 0) throw new Error(`${setup.name}: ${run.non2xx} answers were not 2xx`);
    const posts = run['2xx'];
    return {
      rps: posts / seconds,
      cpuUsPerPost: (used * 1e6) / posts,
      p50: run.latency.p50,
      p99: run.latency.p99,
    } satisfies Figure;
  } finally {
    await stop(manager);
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function main(): Promise<void> {
  installBackends();
  const servers: LocalServer[] = [];
  try {
    const beanstalkd = await startBeanstalkd({});
    servers.push(beanstalkd);
    const mongo = await startMongoServer();
    servers.push(mongo);
    const figures = new Map<string, Figure[]>(SETUPS.map((setup) => [setup.name, []]));
    for (let round = 1; round <= rounds; round += 1) {
      // Each round starts one setup later, so that no setup always runs first or last.
      const order = SETUPS.map((_, k) => SETUPS[(k + round - 1) % SETUPS.length] as Setup);
      for (const setup of order) {
        const figure = await measure(setup, { beanstalkd, mongo });
        figures.get(setup.name)?.push(figure);
        process.stderr.write(
          `round ${round}, ${setup.name}: ${fmt(figure.rps)} req/s (${figure.p50}/${figure.p99} ms), manager ${fmt(figure.cpuUsPerPost)} µs CPU per POST\n`,
        );
      }
    }
    const baseline = median((figures.get(SETUPS[0]?.name ?? '') ?? []).map((f) => f.cpuUsPerPost));
    const lines = [
      `| setup | POST req/s, each round | manager CPU µs per POST, each round | median, against the first setup |`,
      '|---|---|---|---|',
      ...SETUPS.map((setup) => {
        const mine = figures.get(setup.name) ?? [];
        const cpu = median(mine.map((f) => f.cpuUsPerPost));
        const delta = cpu - baseline;
        return `| ${setup.name} | ${mine.map((f) => fmt(f.rps)).join(', ')} | ${mine
          .map((f) => fmt(f.cpuUsPerPost))
          .join(', ')} | ${fmt(cpu)} (${delta >= 0 ? '+' : '−'}${fmt(Math.abs(delta))}) |`;
      }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

await main();
