/**
 * docker-compose.yml as Swarm's own parser (`docker stack config`) and docker-compose 1.29
 * (`docker-compose config`) render it: both must accept it, and the rendered services must
 * keep what matters (docs/facts.md "Docker and Swarm", docs/deploy.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_FLAGS } from '../../src/local/node-flags.js';
import {
  type DeployTools,
  deployTools,
  parseOne,
  renderEnv,
  requireTool,
  runTool,
} from '../support/deploy-tools.js';
import { projectRoot } from '../support/harness.js';

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  secrets?: Array<string | { source?: string }>;
  ports?: Array<{ published?: number | string; target?: number }>;
  networks?: Record<string, unknown> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  stop_grace_period?: string;
  deploy?: {
    replicas?: number;
    placement?: { constraints?: string[] };
    update_config?: { order?: string };
    rollback_config?: { order?: string };
    restart_policy?: { condition?: string };
  };
}

interface StackFile {
  services: Record<string, Service>;
  networks: Record<string, { driver?: string; driver_opts?: Record<string, string> }>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file?: string }>;
}

/** Swarm durations such as 15s, 1m30s, 500ms, in seconds. */
function seconds(duration: string | undefined): number {
  if (!duration) return 0;
  let total = 0;
  for (const [, value, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(value) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return total;
}

/** A mount as `source:target`, whichever syntax the renderer used. */
function mounts(service: Service): string[] {
  return (service.volumes ?? []).map((volume) =>
    typeof volume === 'string'
      ? volume.split(':').slice(0, 2).join(':')
      : `${volume.source ?? ''}:${volume.target ?? ''}`,
  );
}

function secretNames(service: Service): string[] {
  return (service.secrets ?? []).map((secret) =>
    typeof secret === 'string' ? secret : (secret.source ?? ''),
  );
}

function networkNames(service: Service): string[] {
  return Array.isArray(service.networks) ? service.networks : Object.keys(service.networks ?? {});
}

function hasHealthCheck(service: Service): boolean {
  const test = service.healthcheck?.test;
  const words = Array.isArray(test) ? test : test ? [test] : [];
  return service.healthcheck?.disable !== true && words.length > 0 && words[0] !== 'NONE';
}

/** The queue services, in the order BEANSTALK_SERVERS lists them (docker-compose.yml). */
const QUEUE_SERVICES = ['beanstalkd', 'beanstalkd-2'];

function followedBy(args: string[] | undefined, flag: string, value: string): boolean {
  return (args ?? []).some((arg, i) => arg === flag && args?.[i + 1] === value);
}

const renderers = [
  {
    name: 'docker stack config (Swarm)',
    tool: 'docker' as const,
    args: ['stack', 'config', '-c', 'docker-compose.yml'],
  },
  {
    name: 'docker-compose config (one machine)',
    tool: 'docker-compose' as const,
    args: ['-f', 'docker-compose.yml', 'config'],
  },
];

for (const renderer of renderers) {
  describe(`the stack file, as ${renderer.name} renders it`, function () {
    this.timeout(30_000);
    let tools: DeployTools;
    let stack: StackFile;
    let tool: string;

    before(async function () {
      this.timeout(900_000);
      tools = await deployTools();
      tool = requireTool(this, tools, renderer.tool);
      stack = parseOne(await runTool(tool, renderer.args)) as unknown as StackFile;
    });
    const service = (name: string): Service => {
      const found = stack.services[name];
      assert.ok(found, `service ${name} is defined`);
      return found;
    };

    it('when rendered with no variables set, then the services are the ones the stack needs', () => {
      assert.deepEqual(Object.keys(stack.services).sort(), [
        'beanstalk-console',
        'beanstalkd',
        'beanstalkd-2',
        'manager',
        'mongo',
        'mongo-express',
        'worker',
      ]);
    });

    it('when rendered, then there are 3 workers and WORKER_REPLICAS changes that one number', async () => {
      assert.equal(service('worker').deploy?.replicas, 3);
      const five = parseOne(
        await runTool(tool, renderer.args, renderEnv({ WORKER_REPLICAS: '5' })),
      ) as unknown as StackFile;
      assert.equal(five.services.worker?.deploy?.replicas, 5);
      assert.equal(five.services.manager?.deploy?.replicas, 2, 'only the workers change');
    });

    it('when the queue services run, then each keeps a binlog in its own volume with fsync on every write', () => {
      for (const name of QUEUE_SERVICES) {
        const beanstalkd = service(name);
        assert.ok(
          followedBy(beanstalkd.command, '-b', '/data'),
          `${name}: -b /data in ${beanstalkd.command}`,
        );
        assert.ok(followedBy(beanstalkd.command, '-f', '0'), `${name}: -f 0 in ${beanstalkd.command}`);
        assert.ok(
          mounts(beanstalkd).includes(`${name}-binlog:/data`),
          `${name}: binlog volume: ${mounts(beanstalkd)}`,
        );
        assert.ok(`${name}-binlog` in stack.volumes, `${name}'s binlog is a named volume`);
      }
      assert.ok(
        mounts(service('mongo')).includes('mongo-data:/data/db'),
        'MongoDB keeps its data in a volume',
      );
    });

    it('when there are two queue services, then the second is the first one again (image, flags, check, rules) on its own volume', () => {
      const [first, ...others] = QUEUE_SERVICES.map((name) => service(name));
      assert.ok(first);
      for (const other of others) {
        assert.equal(other.image, first.image);
        assert.deepEqual(other.command, first.command);
        assert.deepEqual(other.healthcheck, first.healthcheck);
        assert.deepEqual(other.deploy, first.deploy);
        assert.equal(other.stop_grace_period, first.stop_grace_period);
        assert.notDeepEqual(mounts(other), mounts(first), 'never two beanstalkd on one binlog');
      }
    });

    it('when managers, workers and the console connect, then each lists every queue service in BEANSTALK_SERVERS, in the same order', () => {
      const expected = QUEUE_SERVICES.map((name) => `${name}:11300`).join(',');
      for (const name of ['manager', 'worker', 'beanstalk-console']) {
        const env = service(name).environment ?? {};
        assert.equal(env.BEANSTALK_SERVERS, expected, `${name} BEANSTALK_SERVERS`);
        // BEANSTALK_SERVERS wins when set: a leftover BEANSTALK_HOST would only mislead.
        assert.equal(env.BEANSTALK_HOST, undefined, `${name} has no BEANSTALK_HOST`);
      }
    });

    it("when workers start, then NODE_OPTIONS gives them the worker's V8 flags and the manager keeps the image's", () => {
      assert.equal(service('worker').environment?.NODE_OPTIONS, NODE_FLAGS.worker.join(' '));
      assert.equal(service('manager').environment?.NODE_OPTIONS, undefined);
    });

    it('when Swarm places or updates the stateful services, then they stay on the data node and stop before they start', () => {
      for (const name of [...QUEUE_SERVICES, 'mongo']) {
        const { deploy } = service(name);
        assert.equal(deploy?.replicas, 1, `${name}: one instance per volume`);
        assert.ok(
          deploy?.placement?.constraints?.includes('node.labels.distributed-workers.data == true'),
          `${name} is pinned to the labelled node: ${deploy?.placement?.constraints}`,
        );
        assert.equal(deploy?.update_config?.order, 'stop-first', `${name} updates stop first`);
        assert.equal(deploy?.rollback_config?.order, 'stop-first', `${name} rollbacks stop first`);
      }
    });

    it('when a task fails, then every service is restarted, and the stateless ones update start-first', () => {
      for (const [name, svc] of Object.entries(stack.services)) {
        assert.equal(svc.deploy?.restart_policy?.condition, 'any', `${name} restart policy`);
      }
      assert.equal(service('manager').deploy?.update_config?.order, 'start-first');
      assert.equal(service('worker').deploy?.update_config?.order, 'start-first');
    });

    it('when health is checked, then every service but the portless worker has a check', () => {
      const manager = service('manager');
      assert.ok(hasHealthCheck(manager), 'manager health check');
      assert.match(JSON.stringify(manager.healthcheck?.test), /healthcheck\.cjs/);
      for (const name of [...QUEUE_SERVICES, 'mongo', 'mongo-express', 'beanstalk-console']) {
        assert.ok(hasHealthCheck(service(name)), `${name} health check`);
      }
      assert.equal(hasHealthCheck(service('worker')), false, 'the worker has none, on purpose');
    });

    it('when a worker is stopped, then its grace period is above the 8 s it takes to finish its jobs', () => {
      assert.ok(seconds(service('worker').stop_grace_period) > 8, service('worker').stop_grace_period);
      assert.ok(seconds(service('manager').stop_grace_period) > 8, service('manager').stop_grace_period);
    });

    it('when the manager starts, then the API keys come as a Docker secret file', () => {
      const manager = service('manager');
      assert.ok(secretNames(manager).includes('api_keys'), `secrets: ${secretNames(manager)}`);
      assert.equal(manager.environment?.API_KEYS_FILE, '/run/secrets/api_keys');
      assert.match(stack.secrets.api_keys?.file ?? '', /\/api_keys$/);
      const express = service('mongo-express');
      assert.ok(secretNames(express).includes('mongo_express_password'));
      assert.equal(
        express.environment?.ME_CONFIG_BASICAUTH_PASSWORD_FILE,
        '/run/secrets/mongo_express_password',
      );
      assert.equal(express.environment?.ME_CONFIG_BASICAUTH_PASSWORD, undefined, 'no password in the file');
    });

    it('when Mongo Express runs, then it is the image built from the npm package, behind a login, on the database the manager writes', () => {
      const express = service('mongo-express');
      assert.match(express.image ?? '', /^distributed-workers-mongo-express:1\.0\.0$/);
      assert.equal(express.environment?.ME_CONFIG_MONGODB_URL, service('manager').environment?.MONGO_URL);
      assert.equal(express.environment?.ME_CONFIG_BASICAUTH_USERNAME, 'admin');
      // A set SERVER makes 1.0.0 ignore the URL and connect to SERVER:27017/ instead.
      assert.equal(express.environment?.ME_CONFIG_MONGODB_SERVER, undefined);
    });

    it('when services talk, then they do so over one encrypted overlay network', () => {
      const backend = stack.networks.backend;
      assert.equal(backend?.driver, 'overlay');
      assert.ok(backend?.driver_opts && 'encrypted' in backend.driver_opts, 'encrypted overlay');
      for (const [name, svc] of Object.entries(stack.services)) {
        assert.deepEqual(networkNames(svc), ['backend'], `${name} networks`);
      }
    });

    it('when ports are published, then only the API (8080), Mongo Express (8081) and the console (8082) are', () => {
      const published = (name: string) => (service(name).ports ?? []).map((port) => Number(port.published));
      assert.deepEqual(published('manager'), [8080]);
      assert.deepEqual(published('mongo-express'), [8081]);
      assert.deepEqual(published('beanstalk-console'), [8082]);
      for (const name of [...QUEUE_SERVICES, 'mongo', 'worker']) assert.deepEqual(published(name), [], name);
    });

    it('when images are named, then each has a pinned tag, never latest', () => {
      for (const [name, svc] of Object.entries(stack.services)) {
        const image = svc.image ?? '';
        const tag = /:([^/:]+)$/.exec(image)?.[1];
        assert.ok(tag, `${name} image ${image} has a tag`);
        assert.notEqual(tag, 'latest', `${name} image ${image}`);
        assert.match(tag, /\d/, `${name} image ${image} names a version`);
      }
    });
  });
}

describe('the Mongo Express image (deploy/mongo-express)', () => {
  const read = (path: string) => readFileSync(join(projectRoot, path), 'utf8');

  it("when built, then it starts from the app image's base and installs mongo-express 1.0.0 as locked", () => {
    const base = (dockerfile: string) => [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    const dockerfile = read('deploy/mongo-express/Dockerfile');
    assert.deepEqual(base(dockerfile), [base(read('Dockerfile')).at(-1)], "the app runtime stage's base");
    assert.match(
      dockerfile,
      /^RUN npm ci --omit=dev --ignore-scripts /m,
      'the tree as package-lock.json pins it',
    );
    const manifest = JSON.parse(read('deploy/mongo-express/package.json')) as {
      dependencies: Record<string, string>;
    };
    assert.deepEqual(manifest.dependencies, { 'mongo-express': '1.0.0' }, 'an exact version, nothing else');
    const lock = JSON.parse(read('deploy/mongo-express/package-lock.json')) as {
      packages: Record<string, { version?: string; integrity?: string }>;
    };
    const locked = lock.packages['node_modules/mongo-express'];
    assert.equal(locked?.version, '1.0.0');
    assert.match(locked?.integrity ?? '', /^sha512-/);
  });
});
