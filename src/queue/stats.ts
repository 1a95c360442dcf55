/**
 * Parses beanstalkd's YAML stats answers into typed objects with camelCase keys; stats-job,
 * which a worker asks for every job, has its own reader (job-stats.ts).
 */
import { parse } from 'yaml';
import { QueueError, QueueErrorCode } from './errors.js';
import { isTubeName } from './validate.js';

/** `stats-tube`: counts for one tube. */
export interface TubeStats {
  name: string;
  currentJobsUrgent: number;
  currentJobsReady: number;
  currentJobsReserved: number;
  currentJobsDelayed: number;
  currentJobsBuried: number;
  totalJobs: number;
  currentUsing: number;
  currentWaiting: number;
  currentWatching: number;
  pause: number;
  cmdDelete: number;
  cmdPauseTube: number;
  pauseTimeLeft: number;
}

/** `stats`: the server as a whole; only the fields we use are typed, the rest are kept. */
export interface ServerStats {
  maxJobSize: number;
  currentJobsReady: number;
  currentJobsReserved: number;
  currentJobsDelayed: number;
  currentJobsBuried: number;
  currentConnections: number;
  version: string;
  pid: number;
  uptime: number;
  [key: string]: number | string | boolean;
}

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

const PLAIN_LINE = /^([a-z][a-z0-9-]*): (-?\d{1,15}(?:\.\d+)?|[A-Za-z][\w./+-]*)$/;
export const YAML_WORDS = new Set(['true', 'false', 'null', 'yes', 'no', 'on', 'off', 'y', 'n']);

/**
 * beanstalkd's stats answers are flat maps of `key: number` or `key: word` lines. Those are
 * read here directly: a worker asks stats-job for every job it reserves, and the YAML parser
 * was a fifth of a worker's CPU (`npm run bench -- --cpu-prof`). Any other line (quoted,
 * empty, or a word YAML reads as a boolean or null) sends the whole answer to the parser.
 */
export function parsePlainMapping(yaml: string): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const raw of yaml.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '---' || line === '') continue;
    const match = PLAIN_LINE.exec(line);
    const value = match?.[2];
    if (match === null || value === undefined || YAML_WORDS.has(value.toLowerCase())) return undefined;
    out[match[1] ?? ''] = /^[\d-]/.test(value) ? Number(value) : value;
  }
  // An empty answer is not a mapping: the parser's path says so.
  return Object.keys(out).length > 0 ? out : undefined;
}

export function parseMapping(yaml: string, what: string): Record<string, unknown> {
  let doc: unknown = parsePlainMapping(yaml);
  try {
    doc ??= parse(yaml);
  } catch (error: unknown) {
    throw new QueueError(QueueErrorCode.SERVER_ERROR, `${what}: unreadable YAML`, { cause: error });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new QueueError(QueueErrorCode.SERVER_ERROR, `${what}: expected a YAML mapping`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) out[camel(key)] = value;
  return out;
}

export function num(map: Record<string, unknown>, key: string, what: string): number {
  const value = map[key];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  throw new QueueError(QueueErrorCode.SERVER_ERROR, `${what}: field ${key} is not a number`);
}

export function str(map: Record<string, unknown>, key: string): string {
  const value = map[key];
  return value === undefined || value === null ? '' : String(value);
}

export function parseTubeStats(yaml: string): TubeStats {
  const m = parseMapping(yaml, 'stats-tube');
  const n = (key: string) => num(m, key, 'stats-tube');
  return {
    name: str(m, 'name'),
    currentJobsUrgent: n('currentJobsUrgent'),
    currentJobsReady: n('currentJobsReady'),
    currentJobsReserved: n('currentJobsReserved'),
    currentJobsDelayed: n('currentJobsDelayed'),
    currentJobsBuried: n('currentJobsBuried'),
    totalJobs: n('totalJobs'),
    currentUsing: n('currentUsing'),
    currentWaiting: n('currentWaiting'),
    currentWatching: n('currentWatching'),
    pause: n('pause'),
    cmdDelete: n('cmdDelete'),
    cmdPauseTube: n('cmdPauseTube'),
    pauseTimeLeft: n('pauseTimeLeft'),
  };
}

export function parseServerStats(yaml: string): ServerStats {
  const m = parseMapping(yaml, 'stats');
  const n = (key: string) => num(m, key, 'stats');
  const rest: Record<string, number | string | boolean> = {};
  for (const [key, value] of Object.entries(m)) {
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean')
      rest[key] = value;
  }
  return {
    ...rest,
    maxJobSize: n('maxJobSize'),
    currentJobsReady: n('currentJobsReady'),
    currentJobsReserved: n('currentJobsReserved'),
    currentJobsDelayed: n('currentJobsDelayed'),
    currentJobsBuried: n('currentJobsBuried'),
    currentConnections: n('currentConnections'),
    version: str(m, 'version'),
    pid: n('pid'),
    uptime: n('uptime'),
  };
}

/**
 * beanstalkd writes `list-tubes` as `---` and one `- name` line per tube, each name as it is
 * (tube-name characters only, never quoted). Read so directly: the YAML parser was a twentieth
 * of the manager's CPU under GET /stats load, and it reads a name such as `1.0`, `0x10` or
 * `null` as a number or null, so such a tube came back under another name. Any other line
 * sends the whole answer to the parser.
 */
function readPlainList(yaml: string): string[] | undefined {
  const names: string[] = [];
  for (const raw of yaml.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '---' || line === '') continue;
    const name = line.slice(2);
    if (!line.startsWith('- ') || !isTubeName(name)) return undefined;
    names.push(name);
  }
  return names.length > 0 ? names : undefined;
}

/** Parses `list-tubes` / `list-tubes-watched`: a YAML sequence of names. */
export function parseTubeList(yaml: string): string[] {
  const plain = readPlainList(yaml);
  if (plain !== undefined) return plain;
  let doc: unknown;
  try {
    doc = parse(yaml);
  } catch (error: unknown) {
    throw new QueueError(QueueErrorCode.SERVER_ERROR, 'list-tubes: unreadable YAML', { cause: error });
  }
  if (!Array.isArray(doc))
    throw new QueueError(QueueErrorCode.SERVER_ERROR, 'list-tubes: expected a sequence');
  return doc.map(String);
}
