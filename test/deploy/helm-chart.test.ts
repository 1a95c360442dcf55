/** The Helm chart through `helm lint` and `helm template`, and what the rendered objects keep. */
import assert from 'node:assert/strict';
import { NODE_FLAGS } from '../../src/local/node-flags.js';
import { deployTools, parseMany, requireTool, runTool } from '../support/deploy-tools.js';

const CHART = 'deploy/helm/distributed-workers';

interface Probe {
  httpGet?: { path?: string; port?: string | number };
  tcpSocket?: { port?: string | number };
  exec?: { command?: string[] };
}

interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface K8sObject {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: {
    containers?: Container[];
    replicas?: number;
    minAvailable?: number;
    maxUnavailable?: number;
    selector?: { matchLabels?: Record<string, string> };
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
    template?: {
      metadata?: { labels?: Record<string, string> };
      spec?: {
        containers: Container[];
        terminationGracePeriodSeconds?: number;
        securityContext?: { runAsNonRoot?: boolean };
      };
    };
  };
}

describe('the Helm chart', function () {
  this.timeout(60_000);
  let helm: string;
  let objects: K8sObject[];

  const render = async (...sets: string[]) =>
    parseMany(
      await runTool(helm, ['template', 'dw', CHART, ...sets.flatMap((set) => ['--set', set])]),
    ) as unknown as K8sObject[];
  const find = (list: K8sObject[], kind: string, suffix: string): K8sObject => {
    const found = list.find((o) => o.kind === kind && o.metadata.name.endsWith(`-${suffix}`));
    assert.ok(
      found,
      `${kind} *-${suffix} among ${list.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
    );
    return found;
  };
  const container = (object: K8sObject): Container => {
    const first = object.spec?.template?.spec?.containers[0];
    assert.ok(first, `${object.metadata.name} has a container`);
    return first;
  };

  before(async function () {
    this.timeout(900_000);
    helm = requireTool(this, await deployTools(), 'helm');
    objects = await render();
  });

  it('when linted strictly, then helm finds nothing wrong', async () => {
    const output = await runTool(helm, ['lint', '--strict', CHART]);
    assert.match(output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('when rendered with defaults, then it has every part of the stack', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name.replace(/^dw-distributed-workers-/, '')}`);
    for (const expected of [
      'StatefulSet/beanstalkd',
      'Service/beanstalkd',
      'StatefulSet/mongo',
      'Service/mongo',
      'Deployment/manager',
      'Service/manager',
      'Deployment/worker',
      'PodDisruptionBudget/manager',
      'PodDisruptionBudget/worker',
    ]) {
      assert.ok(kinds.includes(expected), `${expected} in ${kinds.join(', ')}`);
    }
  });

  it('when beanstalkd runs, then it keeps its binlog on a claimed volume with fsync on every write', () => {
    const beanstalkd = find(objects, 'StatefulSet', 'beanstalkd');
    assert.equal(beanstalkd.spec?.replicas, 1);
    const args = container(beanstalkd).args ?? [];
    assert.ok(
      args.some((a, i) => a === '-b' && args[i + 1] === '/data'),
      `-b /data in ${args}`,
    );
    assert.ok(
      args.some((a, i) => a === '-f' && args[i + 1] === '0'),
      `-f 0 in ${args}`,
    );
    assert.deepEqual(
      beanstalkd.spec?.volumeClaimTemplates?.map((claim) => claim.metadata.name),
      ['binlog'],
    );
    assert.ok(
      container(beanstalkd).volumeMounts?.some((m) => m.name === 'binlog' && m.mountPath === '/data'),
    );
  });

  it('when the manager is probed, then liveness asks /healthz and readiness /readyz', () => {
    const manager = container(find(objects, 'Deployment', 'manager'));
    assert.equal(manager.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(manager.readinessProbe?.httpGet?.path, '/readyz');
    assert.deepEqual(manager.args, ['manager']);
  });

  it('when workers run, then there are 3, with a grace period above their 8 s, and the count is one value', async () => {
    const worker = find(objects, 'Deployment', 'worker');
    assert.equal(worker.spec?.replicas, 3);
    assert.ok((worker.spec?.template?.spec?.terminationGracePeriodSeconds ?? 0) > 8);
    assert.deepEqual(container(worker).args, ['worker']);
    const five = await render('worker.replicas=5');
    assert.equal(find(five, 'Deployment', 'worker').spec?.replicas, 5);
  });

  it('when pods are disrupted, then the budgets keep a manager up and take workers one at a time', () => {
    const managerPdb = find(objects, 'PodDisruptionBudget', 'manager');
    assert.equal(managerPdb.spec?.minAvailable, 1);
    assert.equal(find(objects, 'PodDisruptionBudget', 'worker').spec?.maxUnavailable, 1);
    const managerLabels = find(objects, 'Deployment', 'manager').spec?.template?.metadata?.labels ?? {};
    for (const [key, value] of Object.entries(managerPdb.spec?.selector?.matchLabels ?? {})) {
      assert.equal(managerLabels[key], value, `the manager budget selects the manager pods (${key})`);
    }
  });

  it('when pods are scheduled, then each container has resources and runs as non-root', () => {
    for (const object of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')) {
      const { resources } = container(object);
      assert.ok(resources?.requests?.memory, `${object.metadata.name} requests memory`);
      assert.ok(resources?.limits?.memory, `${object.metadata.name} has a memory limit`);
      assert.equal(object.spec?.template?.spec?.securityContext?.runAsNonRoot, true, object.metadata.name);
      assert.doesNotMatch(
        container(object).image ?? '',
        /:latest$|^[^:]+$/,
        `${object.metadata.name} image is pinned`,
      );
    }
  });

  it('when MongoDB is external, then no MongoDB is deployed and both roles get its URL', async () => {
    const external = await render('mongo.enabled=false', 'mongo.externalUrl=mongodb://db.example:27017/jobs');
    assert.equal(
      external.some((o) => o.metadata.name.endsWith('-mongo')),
      false,
    );
    for (const role of ['manager', 'worker']) {
      const env = container(find(external, 'Deployment', role)).env ?? [];
      assert.equal(env.find((e) => e.name === 'MONGO_URL')?.value, 'mongodb://db.example:27017/jobs', role);
    }
    await assert.rejects(render('mongo.enabled=false'), /mongo\.externalUrl/);
  });

  it("when workers start, then NODE_OPTIONS gives them the worker's V8 flags and the manager keeps the image's", () => {
    const env = (role: string) => container(find(objects, 'Deployment', role)).env ?? [];
    assert.equal(env('worker').find((e) => e.name === 'NODE_OPTIONS')?.value, NODE_FLAGS.worker.join(' '));
    assert.equal(
      env('manager').find((e) => e.name === 'NODE_OPTIONS'),
      undefined,
    );
  });

  it('when an API key Secret is named, then the manager gets it as a file', async () => {
    const withKeys = await render('apiKeys.existingSecret=dw-api-keys');
    const manager = find(withKeys, 'Deployment', 'manager');
    assert.equal(
      container(manager).env?.find((e) => e.name === 'API_KEYS_FILE')?.value,
      '/run/secrets/api_keys',
    );
    assert.ok(container(manager).volumeMounts?.some((m) => m.mountPath === '/run/secrets/api_keys'));
    const without = container(find(objects, 'Deployment', 'manager'));
    assert.equal(
      without.env?.some((e) => e.name === 'API_KEYS_FILE'),
      false,
      'no secret, no variable',
    );
  });

  it('when `helm test` runs, then its pod asks the manager Service for /readyz', () => {
    const test = find(objects, 'Pod', 'test-readyz');
    assert.equal(test.metadata.annotations?.['helm.sh/hook'], 'test');
    const env = test.spec?.containers?.[0]?.env ?? [];
    assert.equal(
      env.find((e) => e.name === 'READYZ_URL')?.value,
      'http://dw-distributed-workers-manager:8080/readyz',
    );
  });

  it('when batch mode is enabled, then a Job of workers exits once the queue is drained', async () => {
    assert.equal(
      objects.some((o) => o.kind === 'Job'),
      false,
      'off by default',
    );
    const batch = await render('batchWorker.enabled=true', 'worker.replicas=0');
    const job = find(batch, 'Job', 'worker-batch-1');
    assert.deepEqual(container(job).args, ['worker', '--exit-when-drained']);
    assert.equal(container(job).env?.find((e) => e.name === 'WORKER_DRAIN_IDLE_MS')?.value, '5000');
    assert.equal(
      container(job).env?.find((e) => e.name === 'NODE_OPTIONS')?.value,
      NODE_FLAGS.worker.join(' '),
    );
    assert.equal(job.spec?.template?.spec?.securityContext?.runAsNonRoot, true);
    assert.equal(find(batch, 'Deployment', 'worker').spec?.replicas, 0);
  });
});
