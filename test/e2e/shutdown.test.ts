/** Graceful shutdown of real processes: SIGTERM lets work in hand finish, within Swarm's 10 s. */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { freePort, waitForPort } from '../../src/local/servers.js';
import {
  backendEnv,
  backends,
  dropDatabase,
  isolation,
  spawnCli,
  startTcpProxy,
  stopAllSpawned,
  tubeCounts,
  waitFor,
  withMongo,
} from '../support/harness.js';

describe('graceful shutdown (processes)', function () {
  this.timeout(60_000);
  let env: Record<string, string>;
  let dbName: string;
  let tubePrefix: string;
  let base: string;

  const startManager = async () => {
    const port = await freePort();
    const manager = spawnCli(['manager'], {
      ...env,
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
    });
    await waitForPort(port, 15_000, manager.child);
    base = `http://127.0.0.1:${port}`;
    return { manager, port };
  };
  const post = async (body: string) => {
    const res = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    assert.equal(res.status, 202);
    return ((await res.json()) as { id: string }).id;
  };
  const get = async (id: string) =>
    (await (await fetch(`${base}/jobs/${id}`)).json()) as { state: string; worker?: string };

  beforeEach(() => {
    const iso = isolation('stop');
    dbName = iso.dbName;
    tubePrefix = iso.tubePrefix;
    env = {
      ...backendEnv(iso),
    };
  });
  afterEach(async () => {
    await stopAllSpawned();
    await dropDatabase(dbName);
  });

  it('when a worker gets SIGTERM with a job in hand, then it finishes the job and exits 0 within the grace', async () => {
    await startManager();
    const worker = spawnCli(['worker'], {
      ...env,
      WORKER_NAME: 'graceful',
      WORKER_CONCURRENCY: '2',
      WORKER_WORK_DELAY_MS: '1500',
    });
    const id = await post('{"finish":"me"}');
    await waitFor('the job to run', async () => (await get(id)).state === 'running');
    const t0 = Date.now();
    worker.child.kill('SIGTERM');
    const { code } = await worker.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 8000, `stopped in ${Date.now() - t0} ms`);
    const view = await get(id);
    assert.equal(view.state, 'completed');
    // Either of its two slots may have reserved it first.
    assert.match(view.worker ?? '', /^graceful:[01]$/);
  });

  it('when a job outlasts the grace, then the worker releases it, exits 0, and another worker completes it', async () => {
    await startManager();
    const worker = spawnCli(['worker'], {
      ...env,
      WORKER_NAME: 'impatient',
      WORKER_CONCURRENCY: '1',
      WORKER_WORK_DELAY_MS: '30000',
      WORKER_SHUTDOWN_GRACE_MS: '1000',
    });
    const id = await post('{"too":"long"}');
    await waitFor('the job to run', async () => (await get(id)).state === 'running');
    const t0 = Date.now();
    worker.child.kill('SIGTERM');
    const { code } = await worker.exited;
    assert.equal(code, 0);
    // The job needs 30 s: a worker that waited for it would take that long. The grace (1 s)
    // cut it short, as the log says; half the job's time leaves a loaded machine room.
    const stoppedMs = Date.now() - t0;
    assert.ok(stoppedMs < 15_000, `stopped in ${stoppedMs} ms; the job needs 30 s`);
    assert.deepEqual(
      worker
        .records()
        .filter((r) => r.msg === 'worker stopped')
        .map((r) => r.graceful),
      [false],
      'stopped past the grace, not after the job',
    );
    assert.ok(worker.records().some((r) => r.msg === 'worker stopping: job released for another worker'));
    assert.equal((await get(id)).state, 'queued', 'released, not lost and not failed');
    // Any of its 64 slots may reserve it: whichever asked beanstalkd first.
    spawnCli(['worker'], { ...env, WORKER_NAME: 'next' });
    await waitFor('another worker to complete it', async () => {
      const view = await get(id);
      return view.state === 'completed' && /^next:\d+$/.test(view.worker ?? '');
    });
  });

  it('when the manager gets SIGTERM mid-request, then it answers that request and exits 0', async () => {
    const { manager, port } = await startManager();
    const body = '{"slow":"upload"}';
    // Expect: 100-continue makes Node answer "100 Continue" once the request reached the app,
    // so the test knows the request is in flight before it sends SIGTERM.
    let inFlight: () => void = () => undefined;
    const isInFlight = new Promise<void>((r) => {
      inFlight = r;
    });
    const answer = new Promise<{ status: number; text: string; connection?: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/jobs',
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            Expect: '100-continue',
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text,
              ...(res.headers.connection ? { connection: res.headers.connection } : {}),
            }),
          );
        },
      );
      req.on('error', reject);
      req.on('continue', () => {
        inFlight();
        // The body goes out once the manager has been told to stop.
        void waitFor('the manager to start stopping', () =>
          manager.records().some((r) => r.msg === 'manager stopping'),
        ).then(() => req.end(body));
      });
      req.flushHeaders();
    });
    await isInFlight;
    manager.child.kill('SIGTERM');
    const res = await answer;
    assert.equal(res.status, 202, res.text);
    assert.equal(res.connection, 'close', 'the answer closes its connection: the manager is stopping');
    const { code } = await manager.exited;
    assert.equal(code, 0);
  });

  it('when the manager gets SIGTERM while accepting a job whose client left, then it queues that job before it closes and exits 0', async () => {
    // beanstalkd through a proxy that holds the manager's first put until released.
    const proxy = await startTcpProxy(backends().beanstalk.port);
    try {
      const hold = proxy.holdNextPut();
      env.BEANSTALK_PORT = String(proxy.port);
      const { manager, port } = await startManager();
      const client = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/jobs',
        headers: { 'Content-Type': 'application/json' },
      });
      client.on('error', () => undefined);
      client.end('{"client":"leaves"}');
      await hold.held;
      // The job is recorded and its put is on the wire: the client leaves, the manager is told to stop.
      client.destroy();
      manager.child.kill('SIGTERM');
      await waitFor('the manager to start stopping', () =>
        manager.records().some((r) => r.msg === 'manager stopping'),
      );
      hold.release();
      const { code } = await manager.exited;
      assert.equal(code, 0);
      const records = await withMongo(dbName, (db) => db.collection('jobs').find().toArray());
      assert.equal(records.length, 1, 'the job was recorded');
      const counts = await tubeCounts(backends().beanstalk.port, `${tubePrefix}hash`);
      assert.equal(counts.ready, 1, 'and queued, not left for the reconciler');
      const refs = await withMongo(dbName, (db) => db.collection('queue_refs').find().toArray());
      assert.deepEqual(
        refs.map((ref) => ref._id),
        [records[0]?._id],
        'and its queue reference stored',
      );
      assert.ok(
        !manager.records().some((r) => r.level === 40),
        `no warning: ${JSON.stringify(manager.records().filter((r) => r.level === 40))}`,
      );
    } finally {
      await proxy.close();
    }
  });

  it('when the manager gets SIGTERM while a client keeps posting on one kept-alive connection, then an answer closes that connection, the manager exits 0 within the grace, and every job it accepted is queued', async () => {
    const { manager, port } = await startManager();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    /** One POST on the kept-alive connection: its status and its Connection header. */
    const postOn = () =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/jobs',
            agent,
            headers: { 'Content-Type': 'application/json' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
          },
        );
        req.on('error', reject);
        req.end('{"busy":"client"}');
      });
    let accepted = 0;
    let closedBy = 0;
    let running = true;
    const client = (async () => {
      while (running) {
        try {
          const answer = await postOn();
          if (answer.status === 202) accepted += 1;
          if (answer.connection === 'close') closedBy += 1;
        } catch {
          return; // refused: the manager no longer listens
        }
      }
    })();
    try {
      await waitFor('some jobs accepted', () => accepted >= 20);
      manager.child.kill('SIGTERM');
      // Node's server.close() alone never ends a connection kept this busy.
      await waitFor('the manager to exit within its 8 s grace', () => manager.child.exitCode !== null, 8_000);
    } finally {
      running = false;
      await client;
      agent.destroy();
    }
    assert.equal(manager.child.exitCode, 0);
    // The connection ends with an answer that says so, or, when SIGTERM came between two
    // requests, as an idle one; either way the next request finds no listener.
    assert.ok(closedBy <= 1, `${closedBy} answers said Connection: close`);
    const counts = await tubeCounts(backends().beanstalk.port, `${tubePrefix}hash`);
    assert.equal(counts.ready, accepted, 'every job answered 202 is queued');
    const records = await withMongo(dbName, (db) => db.collection('jobs').countDocuments());
    assert.equal(records, accepted, 'and recorded, and nothing else is');
  });

  it('when the manager gets SIGTERM while a GET ?wait=60 waits, then that request answers at once with the job as it is, and the manager exits 0', async () => {
    const { manager } = await startManager();
    const id = await post('{"waits":"for nobody"}');
    const waited = fetch(`${base}/jobs/${id}?wait=60`).then(async (res) => ({
      status: res.status,
      body: (await res.json()) as { id: string; state: string },
      connection: res.headers.get('connection'),
    }));
    await waitFor('the wait to be registered', async () =>
      /^dw_waiting_requests 1$/m.test(await (await fetch(`${base}/metrics`)).text()),
    );
    const stoppedAt = Date.now();
    manager.child.kill('SIGTERM');
    const answer = await waited;
    assert.equal(answer.status, 200);
    assert.deepEqual([answer.body.id, answer.body.state], [id, 'queued']);
    assert.equal(answer.connection, 'close');
    const { code } = await manager.exited;
    assert.equal(code, 0);
    assert.ok(
      Date.now() - stoppedAt < 8_000,
      `stopped in ${Date.now() - stoppedAt} ms, not at the wait's 60 s`,
    );
  });
});
