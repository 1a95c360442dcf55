/**
 * Observing the real processes: /readyz following beanstalkd down and back, /workers
 * following spawned workers, the `load` command with 10,000 jobs, test.sh, pretty logs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, type LocalServer, startBeanstalkd, waitForPort } from '../../src/local/servers.js';
import {
  backendEnv,
  dropDatabase,
  isolation,
  projectRoot,
  spawnCli,
  stopAllSpawned,
  tubeCounts,
  waitFor,
  withMongo,
} from '../support/harness.js';
import { metricSum } from '../support/metrics.js';

interface WorkerAnswer {
  id: string;
  name: string;
  pid: number;
  host: string;
  types: string[];
  concurrency: number;
  completed: number;
  failed: number;
  avgDurationMs: number | null;
}

describe('observing the system as processes (end to end)', function () {
  this.timeout(300_000);
  let env: Record<string, string>;
  let dbName: string;
  let tube: string;
  let base: string;

  const startManager = async (extra: Record<string, string> = {}, args: string[] = []) => {
    const port = await freePort();
    const manager = spawnCli(['manager', ...args], {
      ...env,
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      ...extra,
    });
    await waitForPort(port, 15_000, manager.child);
    base = `http://127.0.0.1:${port}`;
    return manager;
  };
  const startWorker = (name: string, extra: Record<string, string> = {}) =>
    spawnCli(['worker'], { ...env, WORKER_NAME: name, ...extra });
  const getJson = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const count = (collection: string, filter: Record<string, unknown> = {}) =>
    withMongo(dbName, (db) => db.collection(collection).countDocuments(filter));

  beforeEach(() => {
    const iso = isolation('obs');
    dbName = iso.dbName;
    tube = `${iso.tubePrefix}hash`;
    env = {
      ...backendEnv(iso),
      LOG_LEVEL: 'info',
    };
  });
  afterEach(async () => {
    await stopAllSpawned();
    await dropDatabase(dbName);
  });

  it('when beanstalkd stops, then /readyz answers 503 naming it; when it is back on the same port, then 200 again', async () => {
    let beanstalkd: LocalServer = await startBeanstalkd();
    try {
      await startManager({ BEANSTALK_PORT: String(beanstalkd.port) });
      const ready = await waitFor('ready', async () => {
        const answer = await getJson('/readyz');
        return answer.status === 200 ? answer.body : undefined;
      });
      assert.deepEqual(ready, { status: 'ready', beanstalkd: 'ok', mongodb: 'ok' });

      await beanstalkd.kill();
      const down = await waitFor('/readyz to say beanstalkd is down', async () => {
        const answer = await getJson('/readyz');
        return answer.status === 503 ? answer.body : undefined;
      });
      assert.deepEqual(down, { status: 'unavailable', beanstalkd: 'unavailable', mongodb: 'ok' });
      const post = await fetch(`${base}/jobs`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"while":"down"}',
      });
      assert.equal(post.status, 503, 'and jobs are refused meanwhile');
      assert.equal(await count('jobs'), 0, 'with nothing left recorded');

      beanstalkd = await startBeanstalkd({ port: beanstalkd.port });
      const back = await waitFor('/readyz to be 200 again', async () => {
        const answer = await getJson('/readyz');
        return answer.status === 200 ? answer.body : undefined;
      });
      assert.deepEqual(back, { status: 'ready', beanstalkd: 'ok', mongodb: 'ok' });
    } finally {
      await beanstalkd.stop();
    }
  });

  it('when three workers run, then /workers lists each with the counts MongoDB holds; a killed one is dropped after the timeout', async () => {
    await startManager({ WORKER_GONE_AFTER_MS: '2000' });
    const workers = ['w1', 'w2', 'w3'].map((name) =>
      startWorker(name, {
        WORKER_CONCURRENCY: '2',
        WORKER_HEARTBEAT_MS: '300',
        WORKER_WORK_DELAY_MS: '5-20',
      }),
    );
    await waitFor(
      'three workers listed',
      async () => ((await getJson('/workers')).body.workers as unknown[]).length === 3,
    );
    for (let i = 0; i < 60; i += 1) {
      const res = await fetch(`${base}/jobs`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ n: i }),
      });
      assert.equal(res.status, 202);
    }
    const listed = await waitFor('the heartbeats to account for 60 jobs', async () => {
      const list = (await getJson('/workers')).body.workers as WorkerAnswer[];
      return list.reduce((sum, w) => sum + w.completed, 0) === 60 ? list : undefined;
    });
    assert.deepEqual(
      listed.map((w) => w.name),
      ['w1', 'w2', 'w3'],
    );
    const stored = await withMongo(dbName, (db) =>
      db
        .collection('results')
        .aggregate<{ _id: string; n: number }>([{ $group: { _id: '$worker', n: { $sum: 1 } } }])
        .toArray(),
    );
    for (const [i, w] of listed.entries()) {
      assert.equal(w.pid, workers[i]!.child.pid, `${w.name}'s pid`);
      assert.deepEqual(w.types, ['hash', 'simulate', 'metrics']);
      assert.equal(w.concurrency, 2);
      assert.equal(w.failed, 0);
      assert.ok(w.avgDurationMs === null || w.avgDurationMs >= 5, `${w.name} average ${w.avgDurationMs}`);
      const inMongo = stored.filter((r) => r._id.startsWith(`${w.name}:`)).reduce((sum, r) => sum + r.n, 0);
      assert.equal(w.completed, inMongo, `${w.name}'s count matches its outcomes in MongoDB`);
    }
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.equal(metricSum(metrics, 'dw_jobs_completed_total', { type: 'hash' }), 60);
    assert.equal(metricSum(metrics, 'dw_workers_live'), 3);

    await workers[1]!.stop('SIGKILL');
    const after = await waitFor(
      'the killed worker to drop out',
      async () => {
        const list = (await getJson('/workers')).body.workers as WorkerAnswer[];
        return list.length === 2 ? list : undefined;
      },
      15_000,
    );
    assert.deepEqual(
      after.map((w) => w.name),
      ['w1', 'w3'],
    );
    const doc = await withMongo(dbName, (db) => db.collection('workers').findOne({ name: 'w2' }));
    assert.equal(doc?.state, 'running', 'a killed worker could not say it stopped: the timeout drops it');
  });

  it('when `load` posts 10,000 jobs, then it waits for every one and prints accepted = completed = 10,000 with latency percentiles', async () => {
    await startManager();
    for (const name of ['l1', 'l2', 'l3']) startWorker(name, { WORKER_CONCURRENCY: '8', LOG_LEVEL: 'warn' });
    const load = spawnCli(['load', '--url', base, '--count', '10000', '--concurrency', '32'], {});
    const { code } = await load.exited;
    const output = load.lines.join('\n');
    assert.equal(code, 0, output);
    const figure = (label: string) => Number(new RegExp(`^${label}: +(\\d+)`, 'm').exec(output)?.[1]);
    assert.equal(figure('accepted'), 10_000, output);
    assert.equal(figure('rejected'), 0);
    assert.equal(figure('completed'), 10_000);
    assert.equal(figure('failed'), 0);
    assert.equal(figure('unfinished'), 0);
    for (const line of ['POST latency \\(ms\\)', 'end-to-end latency \\(ms\\)']) {
      const match = new RegExp(
        `^${line}: +p50 ([\\d.]+) +p90 ([\\d.]+) +p99 ([\\d.]+) +max ([\\d.]+) +\\(n=10000\\)$`,
        'm',
      ).exec(output);
      assert.ok(match, `${line} is printed: ${output}`);
      const [p50, p90, p99, max] = match.slice(1).map(Number) as [number, number, number, number];
      assert.ok(p50 <= p90 && p90 <= p99 && p99 <= max, match[0]);
    }
    assert.match(output, /^result: every job accepted and completed$/m);
    assert.equal(await count('results', { outcome: 'completed' }), 10_000, 'MongoDB holds 10,000 outcomes');
    const left = await tubeCounts(Number(env.BEANSTALK_PORT), tube);
    assert.equal(left.ready + left.reserved + left.delayed + left.buried, 0, 'beanstalkd holds none of them');
    console.log(`      ${output.split('\n').slice(6).join('\n      ')}`);
  });

  it('when `load --mode batch` sends NDJSON batches, then every job is accepted and completed', async () => {
    await startManager();
    for (const name of ['b1', 'b2']) startWorker(name, { WORKER_CONCURRENCY: '8', LOG_LEVEL: 'warn' });
    const load = spawnCli(
      ['load', '--url', base, '--count', '2000', '--mode', 'batch', '--batch-size', '500', '--no-progress'],
      {},
    );
    const { code } = await load.exited;
    const output = load.lines.join('\n');
    assert.equal(code, 0, output);
    assert.match(output, /^result: every job accepted and completed$/m);
    assert.equal(await count('results', { outcome: 'completed' }), 2000);
  });

  it('when test.sh posts 200 jobs in parallel, then it prints its summary and every job is recorded and queued', async () => {
    await startManager();
    const target = base.replace('http://', '');
    const child = spawn('bash', [join(projectRoot, 'test.sh'), target, '200'], {
      env: { PATH: process.env.PATH ?? '', PARALLEL: '8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    assert.equal(code, 0, output);
    assert.match(output, /^sent: +200 to http:\/\/127\.0\.0\.1:\d+\/ \(8 at a time\)$/m);
    assert.match(output, /^accepted: 200 \(HTTP 202\)$/m);
    assert.match(output, /^errors: +0$/m);
    assert.match(output, /^elapsed: +\d+\.\d{3} s \(\d+ jobs\/s accepted\)$/m);
    const payloads = await withMongo(dbName, (db) =>
      db
        .collection('jobs')
        .find({}, { projection: { payload: 1 } })
        .toArray(),
    );
    assert.equal(payloads.length, 200);
    const numbers = new Set(payloads.map((doc) => (JSON.parse(String(doc.payload)) as { n: number }).n));
    assert.equal(numbers.size, 200, 'each job once');
    assert.equal((await tubeCounts(Number(env.BEANSTALK_PORT), tube)).ready, 200, 'all queued (no workers)');
  });

  it('when --pretty is given, then the log lines are readable text, not JSON', async () => {
    const manager = await startManager({}, ['--pretty']);
    const line = await waitFor('a pretty start line', () =>
      manager.lines.find((l) => /INFO.*manager listening/.test(l)),
    );
    assert.ok(line);
    assert.deepEqual(manager.records(), [], 'no JSON lines');
  });
});
