/**
 * Spawned workers: a user's handler module, chosen types, batch mode (exit when drained), and
 * the most slots a worker may run without a warning.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWorkerConfig } from '../../src/config/config.js';
import { freePort, waitForPort } from '../../src/local/servers.js';
import {
  backendEnv,
  dropDatabase,
  isolation,
  projectRoot,
  spawnCli,
  stopAllSpawned,
  waitFor,
  withMongo,
} from '../support/harness.js';

describe('worker modes (processes)', function () {
  this.timeout(120_000);
  let env: Record<string, string>;
  let dbName: string;
  let base: string;

  beforeEach(async () => {
    const iso = isolation('modes');
    dbName = iso.dbName;
    env = {
      ...backendEnv(iso),
    };
    const port = await freePort();
    const manager = spawnCli(['manager'], {
      ...env,
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      // The example module's types, beside the built-in one the batch-mode test posts, and
      // one that kills its worker.
      JOB_TYPES: 'hash,wordcount,reverse,fatal',
    });
    await waitForPort(port, 15_000, manager.child);
    base = `http://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    await stopAllSpawned();
    await dropDatabase(dbName);
  });

  const post = async (query: string, body: string) => {
    const res = await fetch(`${base}/jobs${query}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as { id: string }).id;
  };
  const get = async (id: string) =>
    (await (await fetch(`${base}/jobs/${id}`)).json()) as Record<string, unknown>;

  it('when a worker loads the example handler module, then it serves those types and only the types it was given', async () => {
    const worker = spawnCli(
      ['worker', '--handlers', join(projectRoot, 'examples', 'handlers.mjs'), '--types', 'wordcount,reverse'],
      env,
    );
    const words = await post('?type=wordcount', '{"text":"to be or not to be"}');
    const reversed = await post('?type=reverse', '{"text":"abc"}');
    const hash = await post('', '{"not":"served"}');
    await waitFor(
      'both user jobs to complete',
      async () => (await get(words)).state === 'completed' && (await get(reversed)).state === 'completed',
    );
    assert.deepEqual((await get(words)).result, { words: 6 });
    assert.deepEqual((await get(reversed)).result, { reversed: 'cba' });
    assert.equal((await get(hash)).state, 'queued', 'hash is not among its types: the job waits');
    assert.ok(
      worker
        .records()
        .some((r) => r.msg === 'worker started' && JSON.stringify(r.types) === '["wordcount","reverse"]'),
    );
  });

  /** A handler module in a temp dir exporting `fatal` (its body given), removed after `use`. */
  async function withFatalModule(body: string, use: (module: string) => Promise<unknown>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'dw-fatal-'));
    const module = join(dir, 'fatal.mjs');
    writeFileSync(module, `export async function fatal() { ${body} }\n`);
    try {
      await use(module);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Workers of `module` one after the other: the first two die with the job, the third fails it and lives. */
  async function twoDeathsThenFailed(module: string, extraEnv: Record<string, string> = {}) {
    const id = await post('?type=fatal&attempts=2', '{"kills":"its worker"}');
    const worker = () =>
      spawnCli(['worker', '--handlers', module, '--types', 'fatal'], { ...env, ...extraEnv });
    const dead = [];
    for (const death of [1, 2]) {
      const dying = worker();
      const { signal } = await dying.exited;
      assert.equal(signal, 'SIGKILL', `death ${death}: the job took its worker down`);
      dead.push(dying);
    }
    const third = worker();
    await waitFor('the job to fail', async () => ((await get(id)).state === 'failed' ? true : undefined));
    const job = await get(id);
    assert.match(
      String((job.error as { message?: string } | undefined)?.message),
      /^2 deliveries ended without an outcome or a release/,
    );
    assert.equal(job.attempts, 3);
    assert.equal(third.child.exitCode, null, 'the third worker did not run it, and still runs');
    assert.equal(third.child.signalCode, null);
    return dead;
  }

  it('when a job kills every worker that runs it, then after its attempts a worker fails it without running it, and lives', async () => {
    // As a native crash or running out of memory would.
    await withFatalModule("process.kill(process.pid, 'SIGKILL');", (module) => twoDeathsThenFailed(module));
  });

  it('when a handler never gives the event loop back, then the worker kills itself past WORKER_STALL_EXIT_MS, and after its attempts the job fails', async () => {
    await withFatalModule('for (;;) {}', async (module) => {
      const dead = await twoDeathsThenFailed(module, { WORKER_STALL_EXIT_MS: '1500' });
      for (const worker of dead) {
        const line = worker.records().find((r) => /event loop has not turned/.test(String(r.msg)));
        assert.ok(line, 'the worker said why it died');
        assert.equal(line.level, 60);
        assert.ok(Number(line.blockedMs) >= 1500, String(line.blockedMs));
      }
    });
  });

  it('when the whole worker process is frozen longer than WORKER_STALL_EXIT_MS (SIGSTOP, a paused VM), then it is not killed once it runs again', async () => {
    const worker = spawnCli(['worker'], { ...env, WORKER_STALL_EXIT_MS: '1000' });
    await waitFor('the worker to start', async () =>
      worker.records().some((r) => r.msg === 'worker started') ? true : undefined,
    );
    worker.child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 2500)); // the freeze itself is the condition
    worker.child.kill('SIGCONT');
    // It posts and completes a job after the freeze: its loop turns, and its watchdog let it be.
    const id = await post('', '{"after":"the freeze"}');
    await waitFor('the job to complete', async () =>
      (await get(id)).state === 'completed' ? true : undefined,
    );
    // An observation window: a kill would come within a check or two (250 ms each) of the resume.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(worker.child.exitCode, null);
    assert.equal(worker.child.signalCode, null);
    assert.ok(!worker.records().some((r) => /event loop has not turned/.test(String(r.msg))));
  });

  it('when a handler module is broken or a type is unknown, then the worker says why and exits 1', async () => {
    const missing = spawnCli(['worker', '--types', 'nosuchtype'], env);
    assert.equal((await missing.exited).code, 1);
    assert.match(missing.lines.join('\n'), /no handler for type\(s\) nosuchtype/);
    const broken = spawnCli(['worker', '--handlers', join(projectRoot, 'package.json')], env);
    assert.equal((await broken.exited).code, 1);
  });

  it('when a worker runs the most slots WORKER_CONCURRENCY allows, all busy, and stops past its grace, then it prints no Warning', async () => {
    const most = 256;
    assert.equal(loadWorkerConfig({ WORKER_CONCURRENCY: String(most) }).concurrency, most);
    assert.throws(() => loadWorkerConfig({ WORKER_CONCURRENCY: String(most + 1) }), 'the largest allowed');
    const body = Array.from({ length: 2 * most + 50 }, (_, i) => JSON.stringify({ slotLoad: i })).join('\n');
    const res = await fetch(`${base}/jobs/batch`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-ndjson' },
      body,
    });
    assert.equal(res.status, 202, await res.text());
    // Each job holds its slot for 3 s: every slot runs one at once, so one stop signal shared
    // by all would carry 256 abort listeners (Node warns past 10).
    const worker = spawnCli(['worker', '--name', 'widest'], {
      ...env,
      WORKER_CONCURRENCY: String(most),
      WORKER_WORK_DELAY_MS: '3000',
      WORKER_SHUTDOWN_GRACE_MS: '300',
    });
    const results = () => withMongo(dbName, (db) => db.collection('results').countDocuments({}));
    await waitFor(
      'the first wave of jobs, one per slot, to complete',
      async () => (await results()) >= most,
      60_000,
    );
    // The second wave is in hand: stopping past the 300 ms grace aborts every slot's run.
    await worker.stop('SIGTERM');
    assert.equal((await worker.exited).code, 0, worker.lines.join('\n'));
    const slots = await withMongo(dbName, (db) =>
      db
        .collection('results')
        .aggregate([{ $group: { _id: '$worker' } }])
        .toArray(),
    );
    assert.equal(slots.length, most, 'every slot ran a job');
    assert.ok(
      worker.records().some((r) => r.msg === 'worker stopped' && r.graceful === false),
      'the stop went past the grace (the abort path ran)',
    );
    const warnings = worker.lines.filter((line) => /Warning/.test(line));
    assert.deepEqual(warnings, [], 'no Node warning in the output');
  });

  it('when three batch-mode workers drain 500 jobs, then all complete and every worker exits 0', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 500; i += 1) ids.push(await post('', JSON.stringify({ i })));
    const workers = [1, 2, 3].map((n) =>
      spawnCli(
        [
          'worker',
          '--exit-when-drained',
          '--drain-idle-ms',
          '1500',
          '--name',
          `batch${n}`,
          '--concurrency',
          '4',
        ],
        env,
      ),
    );
    const exits = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(
      exits.map((e) => e.code),
      [0, 0, 0],
    );
    const results = await withMongo(dbName, (db) =>
      db.collection('results').countDocuments({ outcome: 'completed' }),
    );
    assert.equal(results, 500);
    assert.ok(workers.every((w) => w.records().some((r) => r.msg === 'queue drained')));
  });
});
