/**
 * Observing the real processes: /readyz following beanstalkd down and back, /workers
 * following spawned workers, the `load` command with 10,000 jobs, test.sh, both with an API
 * key, pretty logs.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort, type LocalServer, startBeanstalkd, waitForPort } from '../../src/local/servers.js';
import {
  backendEnv,
  cliPath,
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
  /** Runs ./test.sh against the manager with only PATH (and `extra`) in its environment. */
  const runTestSh = async (jobs: number, extra: Record<string, string> = {}) => {
    const target = base.replace('http://', '');
    const child = spawn('bash', [join(projectRoot, 'test.sh'), target, String(jobs)], {
      env: { PATH: process.env.PATH ?? '', PARALLEL: '8', ...extra },
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
    return { code, output };
  };
  /** A key the manager accepts (API_KEYS), unlike any other text the processes print. */
  const newApiKey = () => `bulk-${randomBytes(16).toString('hex')}`;

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

  it('when a schedule makes jobs, then /metrics counts them as accepted, as it counts POSTed ones', async () => {
    await startManager({ SCHEDULER_INTERVAL_MS: '200' });
    const accepted = async () =>
      metricSum(await (await fetch(`${base}/metrics`)).text(), 'dw_jobs_accepted_total', { type: 'hash' }) ??
      Number.NaN;
    assert.equal(await accepted(), 0);
    const made = await fetch(`${base}/schedules`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'obs-ticks', every_seconds: 1, type: 'hash', payload: { tick: true } }),
    });
    assert.equal(made.status, 201, await made.text());
    await waitFor('two ticks counted in dw_jobs_accepted_total', async () => (await accepted()) >= 2, 15_000);
    // Every counted job is a tick's: nothing else was posted.
    const ticks = (await tubeCounts(Number(env.BEANSTALK_PORT), tube)).total;
    assert.ok(ticks >= 2, `${ticks} tick jobs queued`);
    assert.ok((await accepted()) <= ticks, 'no job counted that was not queued');
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
      assert.deepEqual(w.types, ['hash', 'simulate', 'metrics', 'summary']);
      assert.equal(w.concurrency, 2);
      assert.equal(w.failed, 0);
      // Every worker ran some of the 60 (beanstalkd hands jobs to waiting reserves in turn), so
      // each has an average, and it includes the simulated 5-20 ms of work.
      assert.ok(w.completed > 0, `${w.name} completed jobs`);
      assert.ok(
        typeof w.avgDurationMs === 'number' && w.avgDurationMs >= 5,
        `${w.name} average ${w.avgDurationMs}`,
      );
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
    const { code, output } = await runTestSh(200);
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

  it('when the manager wants an API key, then test.sh sends API_KEY as a Bearer token, every job is accepted, and the key is printed nowhere', async () => {
    const key = newApiKey();
    const manager = await startManager({ API_KEYS: `bulk:${key}` });

    const withKey = await runTestSh(50, { API_KEY: key });
    assert.equal(withKey.code, 0, withKey.output);
    assert.match(withKey.output, /^sent: +50 to http:\/\/127\.0\.0\.1:\d+\/ \(8 at a time, with API_KEY\)$/m);
    assert.match(withKey.output, /^accepted: 50 \(HTTP 202\)$/m);

    const without = await runTestSh(20);
    assert.equal(without.code, 1, without.output);
    assert.match(without.output, /^ {2}20 × HTTP 401 \(the manager wants an API key: set API_KEY\)$/m);
    assert.equal(await count('jobs'), 50, 'recorded: only the 50 sent with the key');
    assert.equal((await tubeCounts(Number(env.BEANSTALK_PORT), tube)).ready, 50, 'and queued');

    const wrong = await runTestSh(5, { API_KEY: `${key}x` });
    assert.equal(wrong.code, 1, wrong.output);
    assert.match(wrong.output, /^ {2}5 × HTTP 401 \(the manager refused API_KEY\)$/m);

    for (const output of [without.output, withKey.output, wrong.output, ...manager.lines])
      assert.ok(!output.includes(key), `the key is printed nowhere: ${output}`);
  });

  it('when the manager wants an API key, then `load` sends API_KEY or --api-key as a Bearer token, says what is missing on 401, and prints the key nowhere', async () => {
    const key = newApiKey();
    const manager = await startManager({ API_KEYS: `bulk:${key}` });
    const worker = startWorker('k1', { WORKER_CONCURRENCY: '8', LOG_LEVEL: 'warn' });
    const load = async (args: string[], extra: Record<string, string> = {}) => {
      const run = spawnCli(['load', '--url', base, '--no-progress', ...args], extra);
      const { code } = await run.exited;
      return { code, output: run.lines.join('\n') };
    };

    const fromEnv = await load(['--count', '200'], { API_KEY: key });
    assert.equal(fromEnv.code, 0, fromEnv.output);
    assert.match(fromEnv.output, /^accepted: +200$/m);
    assert.match(fromEnv.output, /^result: every job accepted and completed$/m);

    // Batch mode also reads /openapi.json first, with the key.
    const fromFlag = await load([
      '--count',
      '100',
      '--mode',
      'batch',
      '--batch-size',
      '50',
      '--api-key',
      key,
    ]);
    assert.equal(fromFlag.code, 0, fromFlag.output);
    assert.match(fromFlag.output, /^result: every job accepted and completed$/m);

    const none = await load(['--count', '100']);
    assert.equal(none.code, 2, none.output);
    assert.match(
      none.output,
      /^load: the manager at \S+ wants an API key \(HTTP 401\): set API_KEY or pass --api-key$/m,
    );
    const refused = await load(['--count', '100', '--api-key', `${key}x`], { API_KEY: key });
    assert.equal(refused.code, 2, `--api-key wins over API_KEY: ${refused.output}`);
    assert.match(refused.output, /^load: the manager at \S+ refused the API key \(HTTP 401\)/m);

    const help = execFileSync(process.execPath, [cliPath, 'load', '--help'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', API_KEY: key },
    });
    assert.match(help, /--api-key\b.*\[env API_KEY\]/s);

    assert.equal(
      await count('results', { outcome: 'completed' }),
      300,
      'the 300 sent with the key completed',
    );
    assert.equal(await count('jobs'), 300, 'and nothing else was recorded');
    for (const output of [fromEnv.output, fromFlag.output, none.output, refused.output, help])
      assert.ok(!output.includes(key), `the key is printed nowhere: ${output}`);
    for (const line of [...manager.lines, ...worker.lines])
      assert.ok(!line.includes(key), `nor logged: ${line}`);
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
