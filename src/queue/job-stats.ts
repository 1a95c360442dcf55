/** `stats-job`'s answer, read for every job a worker runs: a field-by-field reader, else the YAML path. */
import { QueueError, QueueErrorCode } from './errors.js';
import { num, parseMapping, str, YAML_WORDS } from './stats.js';

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
