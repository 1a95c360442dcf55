/**
 * "Swarm for real": the stack file users deploy, on a one-node swarm of an engine this run
 * started (scripts/test-swarm.sh), with test/swarm/stack.override.yml for what this machine
 * lacks (no registry, no routing mesh). Each scenario counts accepted, completed, lost and
 * duplicated jobs on MongoDB and /jobs/outcomes; the table is printed at the end.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, waitFor } from '../support/harness.js';
import {
  authHeaders,
  drainAndCheck,
  formatTable,
  JobFlow,
  jobsPerServer,
  type ScenarioRow,
  stackApiKey,
  withDb,
} from '../support/job-flow.js';
import {
  beanstalkdStats,
  containerHealth,
  docker,
  runningTasks,
  STACK,
  serviceReplicas,
  serviceTasks,
  userCommand,
} from './docker.js';

const MANAGER_PORT = 8080;
const MONGO_PORT = Number(process.env.DW_SWARM_MONGO_PORT ?? 37017);
const MONGO_URL = `mongodb://127.0.0.1:${MONGO_PORT}/?directConnection=true`;
const BASE = `http://127.0.0.1:${MANAGER_PORT}`;
/** Mongo Express, published in host mode by the override. */
const MONGO_EXPRESS = 'http://127.0.0.1:8081/';
/** The queue services, in the order of the stack's BEANSTALK_SERVERS. */
const QUEUE_SERVERS = ['beanstalkd:11300', 'beanstalkd-2:11300'];
const rows: ScenarioRow[] = [];
const timings: Array<[string, number]> = [];

/** What `docker stack deploy` is given: the user's file, then the test-only override. */
const deployEnv = () => ({
  DW_SECRETS_DIR: join(process.env.DW_SWARM_DIR ?? '', 'secrets'),
  DW_SWARM_MONGO_PORT: String(MONGO_PORT),
  // One manager at first: two tasks cannot publish the same host-mode port on one node
  // (scenario 7 moves the managers to per-task ports). Two workers, as the issue asks.
  MANAGER_REPLICAS: '1',
  WORKER_REPLICAS: '2',
});

/** The hosts of the workers GET /workers lists as live. */
async function liveWorkerHosts(): Promise<Set<string>> {
  try {
    const res = await fetch(`${BASE}/workers`, {
      headers: authHeaders(),
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200) return new Set();
    const body = (await res.json()) as { workers: Array<{ host: string }> };
    return new Set(body.workers.map((w) => w.host));
  } catch {
    return new Set();
  }
}

async function readyz(base: string): Promise<number> {
  try {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

/** Whether a manager's /readyz says every queue server of the stack answers. */
async function everyQueueServerReady(base: string): Promise<boolean> {
  try {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) });
    if (res.status !== 200) {
      await res.body?.cancel();
      return false;
    }
    const body = (await res.json()) as { beanstalkdServers?: Record<string, string> };
    return QUEUE_SERVERS.every((server) => body.beanstalkdServers?.[server] === 'ok');
  } catch {
    return false;
  }
}

/** The managers' URLs: 8080 at first, each task's own host port after scenario 7. */
async function managerBases(): Promise<string[]> {
  const ports = (await runningTasks('manager')).flatMap((t) => t.ports.filter((p) => p > 0));
  return ports.length > 0 ? ports.map((p) => `http://127.0.0.1:${p}`) : [BASE];
}

/** Every service at its replica count, each running task healthy (or without a check). */
async function stackConverged(): Promise<boolean> {
  const replicas = await serviceReplicas();
  if (replicas.size < 7) return false;
  for (const [running, desired] of replicas.values()) if (running !== desired) return false;
  for (const service of ['beanstalkd', 'beanstalkd-2', 'mongo', 'manager']) {
    for (const task of await runningTasks(service)) {
      if ((await containerHealth(task.containerId)) !== 'healthy') return false;
    }
  }
  return true;
}

function record(row: ScenarioRow & { wrongHashes: number }): void {
  rows.push(row);
  console.log(`      ${row.scenario}: ${JSON.stringify({ ...row, workers: undefined })}`);
  assert.equal(row.lost, 0, `${row.scenario}: lost jobs`);
  assert.equal(row.duplicated, 0, `${row.scenario}: duplicated jobs`);
  assert.equal(row.wrongHashes, 0, `${row.scenario}: wrong hashes`);
  assert.equal(row.completed, row.accepted);
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings.push([label, (Date.now() - started) / 1000]);
  }
}

describe('Swarm for real: the stack file on a one-node swarm', function () {
  this.timeout(300_000);

  before(async function () {
    this.timeout(600_000);
    await timed('swarm init and deploy', async () => {
      await userCommand(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
      const node = (await docker(['node', 'ls', '-q'])).trim();
      await userCommand(['node', 'update', '--label-add', 'distributed-workers.data=true', node]);
      // scripts/test-swarm.sh wrote the secrets with docker-compose.yml's own header lines:
      // the manager must start on what a user following them gets.
      stackApiKey();
      await userCommand(
        [
          'stack',
          'deploy',
          '--resolve-image',
          'never',
          '-c',
          join(projectRoot, 'docker-compose.yml'),
          '-c',
          join(projectRoot, 'test/swarm/stack.override.yml'),
          STACK,
        ],
        deployEnv(),
      );
    });
  });

  after(async function () {
    this.timeout(180_000);
    await timed('stack rm', async () => {
      await userCommand(['stack', 'rm', STACK]).catch((e: unknown) => console.error(String(e)));
      await waitFor(
        "the stack's containers to stop",
        async () => (await docker(['ps', '-q'])).trim() === '',
        90_000,
        500,
      ).catch((e: unknown) => console.error(String(e)));
    });
    await userCommand(['swarm', 'leave', '--force']).catch((e: unknown) => console.error(String(e)));
    console.log(`\n${formatTable(rows)}\n`);
    console.log(timings.map(([label, s]) => `      ${label}: ${s.toFixed(1)} s`).join('\n'));
  });

  it('1. when deployed, then every service reaches its replica count, health checks pass and /readyz answers 200', async () => {
    const started = Date.now();
    await waitFor('every service at its replica count and healthy', stackConverged, 180_000, 1000);
    await waitFor(
      '/readyz 200 through the published port',
      async () => (await readyz(BASE)) === 200,
      60_000,
      500,
    );
    const replicas = await serviceReplicas();
    assert.deepEqual(replicas.get('manager'), [1, 1]);
    assert.deepEqual(replicas.get('worker'), [2, 2]);
    assert.deepEqual(replicas.get('beanstalkd'), [1, 1]);
    assert.deepEqual(replicas.get('beanstalkd-2'), [1, 1]);
    assert.deepEqual(replicas.get('mongo'), [1, 1]);
    assert.deepEqual(replicas.get('mongo-express'), [1, 1]);
    const services = await userCommand(['stack', 'services', STACK]);
    assert.match(services, /dw_manager\s+replicated\s+1\/1/);
    // The manager was given both queue servers (BEANSTALK_SERVERS) and reaches each of them.
    await waitFor('/readyz to list both queue servers as ok', () => everyQueueServerReady(BASE), 60_000, 500);
    rows.push({
      scenario: '1 stack healthy',
      accepted: 0,
      completed: 0,
      lost: 0,
      duplicated: 0,
      wrongHashes: 0,
      seconds: (Date.now() - started) / 1000,
    });
  });

  it('2. when 500 jobs are POSTed, then each completes exactly once with the right hash', async () => {
    const started = Date.now();
    const flow = new JobFlow('2-500-jobs', () => [BASE]);
    flow.start(500, 250);
    record(await drainAndCheck(flow, BASE, MONGO_URL, started));
  });

  it('3. when the workers scale to 6 while 2,000 jobs flow, then all six complete jobs and none is lost or doubled', async () => {
    const started = Date.now();
    const flow = new JobFlow('3-scale-to-6', () => [BASE]);
    flow.start(2000, 80);
    await flow.acceptedAtLeast(200);
    try {
      await userCommand(['service', 'scale', `${STACK}_worker=6`, '--detach=false']);
      const six = await waitFor(
        'six worker tasks running',
        async () => {
          const tasks = await runningTasks('worker');
          return tasks.length === 6 ? tasks : undefined;
        },
        120_000,
        500,
      );
      // A running task is not yet a worker reserving jobs: on a slow machine the new ones
      // took over 40 s to start, and the 2,000 jobs were gone before they asked. Wait until
      // every task's worker heartbeats (its host is the container's short id), then send a
      // second batch that the six share.
      const hosts = six.map((task) => task.containerId.slice(0, 12));
      await waitFor(
        'a heartbeat from each of the six workers',
        async () => {
          const live = await liveWorkerHosts();
          return hosts.every((host) => live.has(host));
        },
        120_000,
        1000,
      );
      await flow.finished();
      flow.start(600, 60);
      const row = await drainAndCheck(flow, BASE, MONGO_URL, started);
      record(row);
      for (const task of six) {
        const done = row.workers.get(task.containerId.slice(0, 12)) ?? 0;
        assert.ok(
          done > 0,
          `worker task ${task.slot} (${task.containerId.slice(0, 12)}) completed no job: ${JSON.stringify([...row.workers])}`,
        );
      }
    } finally {
      // Back to two even when this scenario failed, so the next ones start where they expect.
      await userCommand(['service', 'scale', `${STACK}_worker=2`, '--detach=false']);
      await waitFor(
        'two worker tasks again',
        async () => (await runningTasks('worker')).length === 2,
        120_000,
        500,
      );
    }
  });

  it('4. when a worker container is killed mid-flow, then Swarm replaces it and no job is lost', async () => {
    const started = Date.now();
    const flow = new JobFlow('4-kill-worker', () => [BASE]);
    flow.start(800, 80);
    await flow.acceptedAtLeast(200);
    const [victim] = await runningTasks('worker');
    assert.ok(victim);
    await docker(['kill', victim.containerId]);
    await waitFor(
      'Swarm to replace the killed worker',
      async () => {
        const tasks = await runningTasks('worker');
        return tasks.length === 2 && !tasks.some((t) => t.id === victim.id);
      },
      60_000,
      500,
    );
    record(await drainAndCheck(flow, BASE, MONGO_URL, started));
  });

  it('5. when the worker service is updated (--force) while jobs flow, then no job is lost or doubled and old tasks stop gracefully', async () => {
    const started = Date.now();
    const before = await runningTasks('worker');
    const flow = new JobFlow('5-rolling-update', () => [BASE]);
    flow.start(1000, 80);
    await flow.acceptedAtLeast(150);
    await userCommand(['service', 'update', '--force', '--detach=false', `${STACK}_worker`]);
    record(await drainAndCheck(flow, BASE, MONGO_URL, started));
    const old = (await serviceTasks('worker')).filter((t) => before.some((b) => b.id === t.id));
    assert.equal(old.length, before.length);
    for (const task of old) {
      // Exit 0: the worker finished its jobs in hand and stopped on SIGTERM; 137 would mean
      // Swarm had to SIGKILL it at the end of stop_grace_period.
      assert.equal(task.state, 'shutdown', `old task ${task.slot}`);
      assert.equal(task.exitCode, 0, `old task ${task.slot} exit code (137 = killed after the grace period)`);
    }
    assert.equal((await runningTasks('worker')).length, 2);
  });

  it('6. when the beanstalkd task is killed, then Swarm restarts it on its volume, the binlog brings the waiting jobs back and every job completes', async () => {
    // The first of the two queue services; its jobs are about half of them (puts take turns),
    // and while it is down the managers put on beanstalkd-2. Scenario 9 kills the other one.
    const started = Date.now();
    const workersBefore = (await runningTasks('worker')).map((t) => t.id).sort();
    const flow = new JobFlow('6-kill-beanstalkd', () => [BASE]);
    // 300 jobs that wait in the queue (delayed 45 s) while beanstalkd dies, and a flow.
    flow.start(300, 300, '?delay=45');
    await flow.finished();
    flow.start(600, 60);
    await flow.acceptedAtLeast(400);
    const [beanstalkd] = await runningTasks('beanstalkd');
    assert.ok(beanstalkd);
    const killedAt = Date.now();
    await docker(['kill', beanstalkd.containerId]);
    const restarted = await waitFor(
      'a new beanstalkd task running',
      async () => {
        const [task] = await runningTasks('beanstalkd');
        return task && task.id !== beanstalkd.id ? task : undefined;
      },
      90_000,
      500,
    );
    const volumes = await docker([
      'inspect',
      '--format',
      '{{range .Mounts}}{{.Name}} {{end}}',
      restarted.containerId,
    ]);
    assert.match(volumes, /dw_beanstalkd-binlog/);
    // /readyz stays 200 while beanstalkd-2 answers: wait until it lists both servers again.
    await waitFor(
      'the manager to reconnect to both queue servers',
      () => everyQueueServerReady(BASE),
      90_000,
      500,
    );
    // GET /stats sums the servers that answer: 300 again only once the binlog's half is back.
    const delayed = await waitFor(
      'the delayed jobs back from the binlog',
      async () => {
        const res = await fetch(`${BASE}/stats`, {
          headers: authHeaders(),
          signal: AbortSignal.timeout(5000),
        });
        if (res.status !== 200) return undefined;
        const n = ((await res.json()) as { totals: { delayed: number } }).totals.delayed;
        return n >= 300 ? n : undefined;
      },
      30_000,
      500,
    );
    console.log(
      `      beanstalkd back and the manager connected to both servers ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill; ${delayed} delayed jobs back`,
    );
    record(await drainAndCheck(flow, BASE, MONGO_URL, started));
    // The same worker tasks finished the jobs: they reconnected rather than being replaced.
    assert.deepEqual((await runningTasks('worker')).map((t) => t.id).sort(), workersBefore);
  });

  it('7. when the manager runs 2 replicas, then both answer (dnsrr) and POSTs to either complete', async () => {
    const started = Date.now();
    // Host-mode ports: two tasks on one node cannot both publish 8080, so each gets its own
    // host port (published port left to the engine) and the test reads them from the tasks.
    await userCommand([
      'service',
      'update',
      '--detach=false',
      '--publish-rm',
      `published=${MANAGER_PORT},target=8080,mode=host`,
      `${STACK}_manager`,
    ]);
    // Detached: the two tasks below are the condition (the update's 20 s monitor period
    // would only add waiting).
    await userCommand([
      'service',
      'update',
      '--detach',
      '--publish-add',
      'mode=host,target=8080',
      '--replicas',
      '2',
      `${STACK}_manager`,
    ]);
    const managers = await waitFor(
      'two manager tasks running with their ports',
      async () => {
        const tasks = await runningTasks('manager');
        return tasks.length === 2 && tasks.every((t) => (t.ports[0] ?? 0) > 0) ? tasks : undefined;
      },
      90_000,
      500,
    );
    const bases = managers.map((t) => `http://127.0.0.1:${t.ports[0]}`);
    for (const base of bases)
      await waitFor(`${base}/readyz 200`, async () => (await readyz(base)) === 200, 60_000, 500);
    // dnsrr: the service name resolves to both tasks' own addresses on the overlay network.
    const resolved = await docker([
      'run',
      '--rm',
      '--network',
      `${STACK}_backend`,
      'debian:12.11-slim',
      'getent',
      'ahostsv4',
      'manager',
    ]);
    const addresses = new Set(
      resolved
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/)[0]),
    );
    assert.equal(addresses.size, 2, `manager resolves to ${[...addresses].join(', ')}`);
    const flow = new JobFlow('7-two-managers', () => bases);
    flow.start(400, 100);
    const row = await drainAndCheck(flow, bases[0] ?? BASE, MONGO_URL, started);
    record(row);
    // Each manager accepted half (the flow alternates): both recorded and queued jobs.
    for (const base of bases) {
      const res = await fetch(`${base}/jobs/${[...flow.accepted.keys()][0]}`, { headers: authHeaders() });
      assert.equal(res.status, 200, `${base} answers GET`);
      await res.body?.cancel();
    }
  });

  it("8. when Mongo Express is asked with the stack's password, then it shows the database and a stored job's hash; without the password it answers 401", async () => {
    const started = Date.now();
    // The secret as scripts/test-swarm.sh wrote it with docker-compose.yml's own header lines.
    const password =
      readFileSync(join(process.env.DW_SWARM_DIR ?? '', 'secrets', 'mongo_express_password'), 'utf8')
        .split(/\r?\n/)[0]
        ?.trim() ?? '';
    assert.ok(password, 'a Mongo Express password in the secret');
    const login = { Authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
    const get = async (url: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      return { status: res.status, html: await res.text() };
    };
    // One job the earlier scenarios completed, read from MongoDB itself.
    const stored = await withDb(MONGO_URL, (db) =>
      db.collection<{ _id: string; result?: { hash?: string } }>('results').findOne({ outcome: 'completed' }),
    );
    const hash = stored?.result?.hash;
    assert.ok(stored && hash, 'a completed result in MongoDB');

    const database = await waitFor(
      'Mongo Express to show the database',
      async () => {
        const page = await get(`${MONGO_EXPRESS}db/distributed_workers/`, login).catch(() => undefined);
        return page?.status === 200 ? page : undefined;
      },
      120_000,
      1000,
    );
    assert.match(database.html, /results/, 'the database page lists the results collection');
    assert.match(database.html, /jobs/, 'and the jobs collection');
    // Mongo Express 1.0.0's document page: /db/<db>/<collection>/<the _id as a JSON string>.
    const document = await get(
      `${MONGO_EXPRESS}db/distributed_workers/results/${encodeURIComponent(JSON.stringify(stored._id))}`,
      login,
    );
    assert.equal(document.status, 200, document.html.slice(0, 300));
    assert.ok(document.html.includes(hash), "the document page shows the job's hash");
    assert.equal((await get(`${MONGO_EXPRESS}db/distributed_workers/`)).status, 401, 'no login, no page');
    rows.push({
      scenario: '8 mongo-express',
      accepted: 0,
      completed: 0,
      lost: 0,
      duplicated: 0,
      wrongHashes: 0,
      seconds: (Date.now() - started) / 1000,
    });
  });

  it('9. when one of the two queue tasks (beanstalkd-2) is killed under a steady load, then Swarm restarts it on its volume and every accepted job completes exactly once', async () => {
    const started = Date.now();
    // After scenario 7 the managers are on per-task host ports: POST to all of them.
    const bases = await managerBases();
    const base = bases[0] ?? BASE;
    const flow = new JobFlow('9-kill-beanstalkd-2', () => bases);
    // 200 jobs that wait in the queues (delayed 40 s), so beanstalkd-2 holds some when it
    // dies, then a steady flow that goes on through the kill.
    flow.start(200, 200, '?delay=40');
    await flow.finished();
    flow.start(1200, 60);
    await flow.acceptedAtLeast(400);
    // The jobs really went to both servers: MongoDB's records name each one's server...
    const spread = await jobsPerServer(MONGO_URL, flow.scenario);
    for (const server of QUEUE_SERVERS)
      assert.ok((spread.get(server) ?? 0) > 0, `jobs put on ${server}: ${JSON.stringify([...spread])}`);
    // ...and beanstalkd-2 itself holds delayed jobs at the kill.
    const [victim] = await runningTasks('beanstalkd-2');
    assert.ok(victim);
    const before = await beanstalkdStats(victim.containerId);
    assert.ok(
      (before.get('current-jobs-delayed') ?? 0) > 0,
      `beanstalkd-2 stats: ${JSON.stringify([...before])}`,
    );
    const acceptedAtKill = flow.accepted.size;
    const killedAt = Date.now();
    await docker(['kill', victim.containerId]);
    const restarted = await waitFor(
      'a new beanstalkd-2 task running',
      async () => {
        const [task] = await runningTasks('beanstalkd-2');
        return task && task.id !== victim.id ? task : undefined;
      },
      90_000,
      500,
    );
    const volumes = await docker([
      'inspect',
      '--format',
      '{{range .Mounts}}{{.Name}} {{end}}',
      restarted.containerId,
    ]);
    assert.match(volumes, /dw_beanstalkd-2-binlog/);
    for (const url of bases)
      await waitFor(`${url}: both queue servers ready again`, () => everyQueueServerReady(url), 90_000, 500);
    const recovered = (Date.now() - killedAt) / 1000;
    const after = await beanstalkdStats(restarted.containerId).catch(() => new Map<string, number>());
    console.log(
      `      jobs per server before the kill ${JSON.stringify(Object.fromEntries(spread))}; ` +
        `beanstalkd-2 held ${before.get('current-jobs-delayed')} delayed and ${before.get('current-jobs-ready')} ready; ` +
        `killed at ${acceptedAtKill} accepted; back with ${after.get('current-jobs-delayed') ?? '?'} delayed from its binlog, ` +
        `both servers ready ${recovered.toFixed(1)} s after the kill`,
    );
    record(await drainAndCheck(flow, base, MONGO_URL, started));
  });
});
