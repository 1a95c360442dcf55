/**
 * The Docker CLI for the Swarm test, always against the engine scripts/swarm-engine.sh
 * started (DOCKER_HOST must point at its socket: this test never talks to any other daemon).
 */
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';

export const STACK = 'dw';

function dockerHost(): string {
  const host = process.env.DOCKER_HOST ?? '';
  if (!/^unix:\/\/.*\/docker\.sock$/.test(host) || !process.env.DW_SWARM_DIR) {
    throw new Error(
      'DOCKER_HOST must be the engine scripts/swarm-engine.sh started (run npm run test:swarm)',
    );
  }
  return host;
}

/** Runs `docker ARGS`; resolves stdout, rejects with stderr. */
export function docker(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  const env = { ...process.env, ...options.env, DOCKER_HOST: dockerHost() };
  return new Promise<string>((resolve, reject) => {
    execFile(
      'docker',
      args,
      { env, timeout: options.timeoutMs ?? 180_000, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve(`${stdout}${stderr}`);
      },
    );
  });
}

/** Swarm join tokens are credentials: never into a log or the transcript. */
function redact(text: string): string {
  return text.replace(/SWMTKN-[\w-]+/g, 'SWMTKN-…');
}

/**
 * Runs a command a user would run (docs/deploy.md shows these) and appends it with its output to
 * the transcript file DW_SWARM_TRANSCRIPT, when set.
 */
export async function userCommand(args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = await docker(args, { env });
  const file = process.env.DW_SWARM_TRANSCRIPT;
  if (file) {
    const prefix = Object.entries(env)
      .map(([k, v]) => `${k}=${v} `)
      .join('');
    appendFileSync(file, `$ ${prefix}docker ${args.join(' ')}\n${redact(out)}\n`);
  }
  return out;
}

export interface TaskInfo {
  id: string;
  slot: number;
  state: string;
  desired: string;
  containerId: string;
  exitCode: number | null;
  ports: number[];
  startedAt: string;
}

/** The tasks of a stack service (all of them, current and old). */
export async function serviceTasks(service: string): Promise<TaskInfo[]> {
  const ids = (await docker(['service', 'ps', '-q', '--no-trunc', `${STACK}_${service}`]))
    .split('\n')
    .filter(Boolean);
  if (ids.length === 0) return [];
  const out = await docker(['inspect', '--format', '{{json .}}', ...ids]);
  return out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      // The task object as the engine returns it; only the fields read below.
      const t = JSON.parse(line) as {
        ID: string;
        Slot?: number;
        DesiredState: string;
        Status: {
          State: string;
          Timestamp: string;
          ContainerStatus?: { ContainerID?: string; ExitCode?: number };
          PortStatus?: { Ports?: Array<{ PublishedPort?: number }> };
        };
      };
      return {
        id: t.ID,
        slot: t.Slot ?? 0,
        state: t.Status.State,
        desired: t.DesiredState,
        containerId: t.Status.ContainerStatus?.ContainerID ?? '',
        exitCode: t.Status.ContainerStatus?.ExitCode ?? null,
        ports: [...new Set((t.Status.PortStatus?.Ports ?? []).map((p) => p.PublishedPort ?? 0))],
        startedAt: t.Status.Timestamp,
      };
    });
}

/** The tasks Swarm wants running and that are running. */
export async function runningTasks(service: string): Promise<TaskInfo[]> {
  return (await serviceTasks(service)).filter((t) => t.desired === 'running' && t.state === 'running');
}

/** `docker stack services`: name → [running, desired]. */
export async function serviceReplicas(): Promise<Map<string, [number, number]>> {
  const out = await docker(['stack', 'services', STACK, '--format', '{{.Name}} {{.Replicas}}']);
  const replicas = new Map<string, [number, number]>();
  for (const line of out.split('\n').filter(Boolean)) {
    const [name, counts] = line.split(' ');
    const match = /^(\d+)\/(\d+)/.exec(counts ?? '');
    if (name && match) replicas.set(name.replace(`${STACK}_`, ''), [Number(match[1]), Number(match[2])]);
  }
  return replicas;
}

/** The health of a running container: healthy, unhealthy, starting, or none. */
export async function containerHealth(containerId: string): Promise<string> {
  const out = await docker([
    'inspect',
    '--format',
    '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}',
    containerId,
  ]);
  return out.trim();
}

/**
 * beanstalkd's `stats` from inside its container (the queue has no published port), with
 * bash's /dev/tcp as the image's own health check does: the counters by their kebab-case names.
 */
export async function beanstalkdStats(containerId: string): Promise<Map<string, number>> {
  const script = [
    'exec 3<>/dev/tcp/127.0.0.1/11300',
    "printf 'stats\\r\\n' >&3",
    'read -r -t 5 reply <&3',
    '[[ $reply == OK* ]] || { echo "stats answered: $reply" >&2; exit 1; }',
    // The body's length: the digits of "OK <bytes>\r".
    'n=$(tr -dc 0-9 <<<"$reply")',
    'head -c "$((n + 2))" <&3',
  ].join('\n');
  const out = await docker(['exec', containerId, 'bash', '-c', script], { timeoutMs: 15_000 });
  const stats = new Map<string, number>();
  for (const [, key, value] of out.matchAll(/^([a-z-]+): (\d+)\s*$/gm)) {
    if (key && value) stats.set(key, Number(value));
  }
  return stats;
}
