/**
 * kubectl and helm for the Kubernetes test, always against the cluster scripts/test-k8s.sh
 * started (KUBECONFIG under DW_K8S_DIR: this test never talks to any other cluster).
 */
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../support/harness.js';

export const NAMESPACE = 'dw';
export const RELEASE = 'dw';
/** The chart's names: RELEASE-CHART-component. */
export const FULLNAME = `${RELEASE}-distributed-workers`;
export const CHART = join(projectRoot, 'deploy', 'helm', 'distributed-workers');
export const TEST_VALUES = join(projectRoot, 'test', 'k8s', 'values.yaml');

function env(): NodeJS.ProcessEnv {
  const dir = process.env.DW_K8S_DIR;
  const kubeconfig = process.env.KUBECONFIG ?? '';
  if (!dir || !kubeconfig.startsWith(dir)) {
    throw new Error('KUBECONFIG must be the cluster scripts/test-k8s.sh started (run npm run test:k8s)');
  }
  return { ...process.env, KUBECONFIG: kubeconfig };
}

function run(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { env: env(), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${bin} ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** `kubectl -n dw ARGS` with the run's own kubectl (the version built for the cluster). */
export function kubectl(args: string[], timeoutMs = 180_000): Promise<string> {
  return run(process.env.DW_KUBECTL ?? 'kubectl', ['-n', NAMESPACE, ...args], timeoutMs);
}

/**
 * Runs a helm command a user would run (docs/deploy.md shows these) and appends it with its
 * output to the transcript file DW_K8S_TRANSCRIPT, when set.
 */
export async function helm(args: string[], timeoutMs = 900_000): Promise<string> {
  const out = await run(process.env.DW_HELM ?? 'helm', [...args, '-n', NAMESPACE], timeoutMs);
  const file = process.env.DW_K8S_TRANSCRIPT;
  if (file) appendFileSync(file, `$ helm ${args.join(' ')} -n ${NAMESPACE}\n${out}\n`);
  return out;
}

export interface PodInfo {
  name: string;
  phase: string;
  ready: boolean;
  deleting: boolean;
  image: string;
}

/** The pods of one chart component (manager, worker, worker-batch, mongo, beanstalkd). */
export async function pods(component: string): Promise<PodInfo[]> {
  const out = await kubectl(['get', 'pods', '-l', `app.kubernetes.io/component=${component}`, '-o', 'json']);
  // The fields of a Pod read below, as the API returns them.
  const list = JSON.parse(out) as {
    items: Array<{
      metadata: { name: string; deletionTimestamp?: string };
      spec: { containers: Array<{ image: string }> };
      status: { phase: string; conditions?: Array<{ type: string; status: string }> };
    }>;
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    phase: p.status.phase,
    ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    deleting: p.metadata.deletionTimestamp !== undefined,
    image: p.spec.containers[0]?.image ?? '',
  }));
}

/** Running, Ready pods not being deleted. */
export async function readyPods(component: string): Promise<PodInfo[]> {
  return (await pods(component)).filter((p) => p.ready && !p.deleting && p.phase === 'Running');
}

/** A Service's ClusterIP: kube-proxy's iptables rules make it reachable from this host. */
export async function clusterIp(service: string): Promise<string> {
  return (await kubectl(['get', 'service', service, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
}

/** The ready endpoint addresses of a Service, from its EndpointSlices (what kube-proxy uses). */
export async function readyEndpoints(service: string): Promise<string[]> {
  const out = await kubectl([
    'get',
    'endpointslices',
    '-l',
    `kubernetes.io/service-name=${service}`,
    '-o',
    'json',
  ]);
  const list = JSON.parse(out) as {
    items: Array<{ endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }> }>;
  };
  return list.items.flatMap((s) =>
    (s.endpoints ?? []).filter((e) => e.conditions?.ready === true).flatMap((e) => e.addresses),
  );
}
