/**
 * The local stack's log view: each child's pino JSON lines become one readable line with the
 * child's name in front (`[worker-1] 13:15:14.210 INFO  worker started concurrency=4`).
 * Lines that are not JSON pass through as they are, prefixed the same way.
 */
import type { Readable } from 'node:stream';
import { parseJsonObject } from '../json-object.js';

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};

// Shown elsewhere on the line (time, level, message) or by the prefix (role, worker, pid).
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'role', 'worker', 'v']);

function clock(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().slice(11, 23);
}

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Object && 'message' in value && typeof value.message === 'string')
    return JSON.stringify(value.message);
  return JSON.stringify(value) ?? String(value);
}

/** One pino JSON line as `HH:MM:SS.mmm LEVEL message key=value …`; other text unchanged. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  const fields = parseJsonObject(line);
  if (fields === null) return line;
  const level = typeof fields.level === 'number' ? (LEVELS[fields.level] ?? String(fields.level)) : '';
  const message = typeof fields.msg === 'string' ? fields.msg : '';
  const rest = Object.entries(fields)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${fieldValue(value)}`);
  return [clock(fields.time), level, message, ...rest].filter((part) => part !== '').join(' ');
}

/** Writes every line of `stream` to `write` as `[name] formatted line`. */
export function pipePrefixed(stream: Readable | null, name: string, write: (text: string) => void): void {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '') write(`[${name}] ${formatLogLine(line)}\n`);
  });
  stream.on('end', () => {
    if (rest.trim() !== '') write(`[${name}] ${formatLogLine(rest)}\n`);
    rest = '';
  });
}
