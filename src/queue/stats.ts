/** Parses beanstalkd's YAML stats answers into typed objects with camelCase keys. */
import { parse } from 'yaml';
import { QueueError, QueueErrorCode } from './errors.js';
import { isTubeName } from './validate.js';

export type JobQueueState = 'ready' | 'delayed' | 'reserved' | 'buried';

/** `stats-job`: beanstalkd's live view of one job. Times are in seconds. */
export interface JobStats {
  id: string;
  tube: string;
  state: JobQueueState;
  priority: number;
  age: number;
  delay: number;
  ttr: number;
  timeLeft: number;
  file: number;
  reserves: number;
  timeouts: number;
  releases: number;
  buries: number;
  kicks: number;
}

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
const YAML_WORDS = new Set(['true', 'false', 'null', 'yes', 'no', 'on', 'off', 'y', 'n']);

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

function parseMapping(yaml: string, what: string): Record<string, unknown> {
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

function num(map: Record<string, unknown>, key: string, what: string): number {
  const value = map[key];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  throw new QueueError(QueueErrorCode.SERVER_ERROR, `${what}: field ${key} is not a number`);
}

function str(map: Record<string, unknown>, key: string): string {
  const value = map[key];
  return value === undefined || value === null ? '' : String(value);
}

const JOB_STATES: readonly string[] = ['ready', 'delayed', 'reserved', 'buried'];

/** stats-job's numeric fields, by beanstalkd's key: the field each fills, and its bit in readJobStats's `seen`. */
const JOB_NUMBERS = new Map(
  Object.entries({
    id: 'id',
    pri: 'priority',
    age: 'age',
    delay: 'delay',
    ttr: 'ttr',
    'time-left': 'timeLeft',
    file: 'file',
    reserves: 'reserves',
    timeouts: 'timeouts',
    releases: 'releases',
    buries: 'buries',
    kicks: 'kicks',
  } as const).map(([key, field], index) => [key, { field, bit: 1 << index }]),
);
const ALL_JOB_NUMBERS = 2 ** JOB_NUMBERS.size - 1;
const PLAIN_WORD = /^[A-Za-z][\w./+-]*$/;

/**
 * The whole number written in `text` from `from` to `to` (an optional minus, 1–15 digits), or
 * undefined: read in place, as a worker asks stats-job for every job it runs and each slice of
 * an answer is one more object for the collector.
 */
function wholeNumberAt(text: string, from: number, to: number): number | undefined {
  const negative = text.charCodeAt(from) === 45; // '-'
  const first = negative ? from + 1 : from;
  if (to <= first || to - first > 15) return undefined;
  let value = 0;
  for (let at = first; at < to; at += 1) {
    const digit = text.charCodeAt(at) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/**
 * stats-job's answer read field by field, or undefined when anything in it is not what
 * beanstalkd 1.12 sends for a plain tube name (then parseMapping decides). A worker asks for
 * every job it runs: the general path's per-line regex and key renaming were 4 % of a
 * worker's busy time in a drain (`npm run bench -- --cpu-prof`), and the numbers are read in
 * place into one array, the answer built once (`bench/worker-path.ts` counts the bytes).
 */
export function readJobStats(text: string): JobStats | undefined {
  const stats: JobStats = {
    id: '',
    tube: '',
    state: 'ready',
    priority: 0,
    age: 0,
    delay: 0,
    ttr: 0,
    timeLeft: 0,
    file: 0,
    reserves: 0,
    timeouts: 0,
    releases: 0,
    buries: 0,
    kicks: 0,
  };
  let seen = 0;
  let tube: string | undefined;
  let state: string | undefined;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const from = start;
    start = end + 1;
    if (lineEnd === from) continue;
    if (lineEnd - from === 3 && text.startsWith('---', from)) continue;
    const colon = text.indexOf(': ', from);
    if (colon < 0 || colon >= lineEnd) return undefined;
    const key = text.slice(from, colon);
    if (key === 'tube' || key === 'state') {
      const value = text.slice(colon + 2, lineEnd);
      if ((key === 'tube' ? tube : state) !== undefined || !PLAIN_WORD.test(value)) return undefined;
      if (YAML_WORDS.has(value.toLowerCase())) return undefined;
      if (key === 'tube') tube = value;
      else state = value;
      continue;
    }
    const number = JOB_NUMBERS.get(key);
    if (number === undefined || (seen & number.bit) !== 0) return undefined;
    const value = wholeNumberAt(text, colon + 2, lineEnd);
    if (value === undefined) return undefined;
    if (number.field === 'id') stats.id = String(value);
    else stats[number.field] = value;
    seen |= number.bit;
  }
  if (seen !== ALL_JOB_NUMBERS || tube === undefined || state === undefined) return undefined;
  if (!JOB_STATES.includes(state)) return undefined;
  stats.tube = tube;
  stats.state = state as JobQueueState;
  return stats;
}

export function parseJobStats(yaml: string): JobStats {
  const read = readJobStats(yaml);
  if (read !== undefined) return read;
  const m = parseMapping(yaml, 'stats-job');
  const state = str(m, 'state');
  if (!JOB_STATES.includes(state)) {
    throw new QueueError(QueueErrorCode.SERVER_ERROR, `stats-job: unknown state ${JSON.stringify(state)}`);
  }
  return {
    id: String(num(m, 'id', 'stats-job')),
    tube: str(m, 'tube'),
    state: state as JobQueueState,
    priority: num(m, 'pri', 'stats-job'),
    age: num(m, 'age', 'stats-job'),
    delay: num(m, 'delay', 'stats-job'),
    ttr: num(m, 'ttr', 'stats-job'),
    timeLeft: num(m, 'timeLeft', 'stats-job'),
    file: num(m, 'file', 'stats-job'),
    reserves: num(m, 'reserves', 'stats-job'),
    timeouts: num(m, 'timeouts', 'stats-job'),
    releases: num(m, 'releases', 'stats-job'),
    buries: num(m, 'buries', 'stats-job'),
    kicks: num(m, 'kicks', 'stats-job'),
  };
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
