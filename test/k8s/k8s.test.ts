/**
 * "Kubernetes for real": the Helm chart on a one-node cluster this run started
 * (scripts/test-k8s.sh), with test/k8s/values.yaml for what this machine lacks (no registry).
 * The manager and MongoDB are reached from the host through their Services' ClusterIPs
 * (kube-proxy's iptables rules). Each scenario counts accepted, completed, lost and
 * duplicated jobs on MongoDB and /jobs/outcomes; the table is printed at the end.
 */
import { strict as assert } from 'node:assert';
import { waitFor } from '../support/harness.js';
import { drainAndCheck, JobFlow } from '../support/job-flow.js';
import {
  CHART,
  clusterIp,
  FULLNAME,
  helm,
  kubectl,
  NAMESPACE,
  pods,
  RELEASE,
  readyEndpoints,
  readyPods,
  TEST_VALUES,
} from './kube.js';
import { liveWorkerHosts, printTable, record, recordCheck, unfinishedCount } from './scenario-tools.js';

const MANAGER = `${FULLNAME}-manager`;
const WORKER = `${FULLNAME}-worker`;
const MONGO = `${FULLNAME}-mongo`;
let base = '';
let mongoUrl = '';

async function scaleWorkers(replicas: number): Promise<void> {
  await kubectl(['scale', `deployment/${WORKER}`, `--replicas=${replicas}`]);
  await waitFor(
    `${replicas} worker pods ready`,
    async () =>
      (await pods('worker')).filter((p) => !p.deleting).length === replicas &&
      (await readyPods('worker')).length === replicas,
    180_000,
    1000,
  );
}

describe('Kubernetes for real: the Helm chart on a one-node cluster', function () {
  this.timeout(600_000);

  before(async function () {
    this.timeout(900_000);
    const started = Date.now();
    await kubectl(['create', 'namespace', NAMESPACE]);
    await kubectl([
      'create',
      'secret',
      'generic',
      'dw-api-keys',
      `--from-file=api_keys=${process.env.DW_API_KEYS_FILE}`,
    ]);
    await helm(['install', RELEASE, CHART, '-f', TEST_VALUES, '--wait', '--timeout', '10m']);
    base = `http://${await clusterIp(MANAGER)}:8080`;
    mongoUrl = `mongodb://${await clusterIp(MONGO)}:27017/?directConnection=true`;
    console.log(
      `      helm install --wait: ${((Date.now() - started) / 1000).toFixed(1)} s; manager at ${base}`,
    );
  });

  after(printTable);

  it('a. when installed, then every pod is Ready and `helm test` passes', async () => {
    const started = Date.now();
    for (const component of ['manager', 'worker', 'beanstalkd', 'mongo']) {
      assert.ok((await readyPods(component)).length > 0, `${component} has a Ready pod`);
    }
    assert.equal((await readyEndpoints(MANAGER)).length, 2, 'both managers behind the Service');
    const out = await helm(['test', RELEASE, '--logs', '--timeout', '5m']);
    assert.match(out, /Phase:\s+Succeeded/);
    assert.match(out, /\/readyz 200/);
    recordCheck('a ready + helm test', started);
  });

  it('b. when 500 jobs are POSTed to the manager Service, then each completes exactly once with the right digest', async () => {
    const started = Date.now();
    const flow = new JobFlow('b-500-jobs', () => [base]);
    flow.start(500, 250);
    record(await drainAndCheck(flow, base, mongoUrl, started), flow);
  });

  it('c. when the workers scale 2 → 6 under load, then all six complete jobs and none is lost', async () => {
    const started = Date.now();
    const flow = new JobFlow('c-scale-to-6', () => [base]);
    flow.start(1500, 80);
    await flow.acceptedAtLeast(200);
    try {
      await scaleWorkers(6);
      const six = (await readyPods('worker')).map((p) => p.name);
      // A Ready pod is not yet a worker reserving jobs: wait for each one's heartbeat, then
      // send a second batch the six share.
      await waitFor(
        'a heartbeat from each of the six workers',
        async () => {
          const live = await liveWorkerHosts(base);
          return six.every((name) => live.has(name));
        },
        120_000,
        1000,
      );
      await flow.finished();
      flow.start(600, 60);
      const row = await drainAndCheck(flow, base, mongoUrl, started);
      record(row, flow);
      for (const name of six) {
        assert.ok(
          (row.workers.get(name) ?? 0) > 0,
          `${name} completed no job: ${JSON.stringify([...row.workers])}`,
        );
      }
    } finally {
      await scaleWorkers(2);
    }
  });

  it('d. when a worker pod is deleted mid-flow, then it is replaced and no job is lost or stored twice', async () => {
    const started = Date.now();
    const flow = new JobFlow('d-delete-worker', () => [base]);
    flow.start(800, 80);
    await flow.acceptedAtLeast(200);
    const [victim] = await readyPods('worker');
    assert.ok(victim);
    await kubectl(['delete', 'pod', victim.name, '--wait=false']);
    await waitFor(
      'a replacement worker pod ready',
      async () => {
        const ready = await readyPods('worker');
        return ready.length === 2 && !ready.some((p) => p.name === victim.name);
      },
      120_000,
      1000,
    );
    record(await drainAndCheck(flow, base, mongoUrl, started), flow);
  });

  it('e. when `helm upgrade` moves to a new image tag under load, then every pod runs it and no job is lost', async () => {
    const started = Date.now();
    const flow = new JobFlow('e-helm-upgrade', () => [base]);
    flow.start(1000, 60);
    await flow.acceptedAtLeast(150);
    await helm([
      'upgrade',
      RELEASE,
      CHART,
      '--reuse-values',
      '--set',
      'image.tag=k8s-b',
      '--wait',
      '--timeout',
      '10m',
    ]);
    record(await drainAndCheck(flow, base, mongoUrl, started), flow);
    for (const component of ['manager', 'worker']) {
      const images = (await readyPods(component)).map((p) => p.image);
      assert.ok(images.length > 0 && images.every((i) => i.endsWith(':k8s-b')), `${component}: ${images}`);
    }
  });

  it('f. when MongoDB is scaled to 0, then the managers leave the Service endpoints, and return when it is back', async () => {
    const started = Date.now();
    // The upgrade before answers once the new pods are Ready; the old ones may still be shutting
    // down (phase Running, deletion set). Start from two managers and nothing else.
    await waitFor(
      'the old manager pods gone',
      async () => (await pods('manager')).every((p) => !p.deleting),
      120_000,
      500,
    );
    assert.equal((await readyEndpoints(MANAGER)).length, 2);
    const scaledAt = Date.now();
    await kubectl(['scale', `statefulset/${MONGO}`, '--replicas=0']);
    let back = 0;
    try {
      await waitFor(
        'no manager endpoint ready',
        async () => (await readyEndpoints(MANAGER)).length === 0,
        120_000,
        500,
      );
      const left = (Date.now() - scaledAt) / 1000;
      // Still running, only out of the Service: liveness is /healthz, which does not ask MongoDB.
      const running = (await pods('manager')).filter((p) => p.phase === 'Running' && !p.deleting);
      assert.equal(running.length, 2, `running managers: ${running.map((p) => p.name)}`);
      console.log(`      endpoints empty ${left.toFixed(1)} s after the scale to 0`);
    } finally {
      // Back whatever failed above: the scenarios after this one need MongoDB.
      back = Date.now();
      await kubectl(['scale', `statefulset/${MONGO}`, '--replicas=1']);
    }
    await waitFor(
      'both manager endpoints ready again',
      async () => (await readyEndpoints(MANAGER)).length === 2,
      180_000,
      500,
    );
    console.log(`      both back ${((Date.now() - back) / 1000).toFixed(1)} s after the scale to 1`);
    // And the system works again: jobs sent now complete.
    const flow = new JobFlow('f-after-mongo-back', () => [base]);
    flow.start(100, 100);
    record(await drainAndCheck(flow, base, mongoUrl, started), flow);
  });

  it('g. when a batch-mode worker Job runs on a filled queue, then it completes every job and exits when drained', async () => {
    const started = Date.now();
    await scaleWorkers(0);
    const flow = new JobFlow('g-batch-job', () => [base]);
    flow.start(300, 300);
    await flow.finished();
    const ids = [...flow.accepted.keys()];
    assert.equal(await unfinishedCount(base, ids), ids.length, 'no worker runs: the jobs wait');
    const out = await helm([
      'upgrade',
      RELEASE,
      CHART,
      '--reuse-values',
      '--set',
      'worker.replicas=0',
      '--set',
      'batchWorker.enabled=true',
    ]);
    const revision = /REVISION: (\d+)/.exec(out)?.[1];
    assert.ok(revision, out);
    const job = `${FULLNAME}-worker-batch-${revision}`;
    await kubectl(['wait', '--for=condition=complete', `job/${job}`, '--timeout=300s'], 320_000);
    const row = await drainAndCheck(flow, base, mongoUrl, started, 30_000);
    record(row, flow);
    const batchPods = (await pods('worker-batch')).map((p) => p.name);
    assert.deepEqual(
      [...row.workers.keys()].filter((w) => !batchPods.includes(w)),
      [],
      'only the Job ran them',
    );
    console.log(`      job ${job} complete; its pods: ${batchPods.join(', ')}`);
  });
});
