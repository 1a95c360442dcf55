/**
 * `POST /schedules`' body checked, every field, before anything is stored:
 * `{name, cron | every_seconds, timezone?, type?, payload, options?, catch_up?}`. The payload
 * goes through the checks of `POST /jobs` (an object or array, the depth cap, prototype keys,
 * the size it has once queued) and is kept as the exact text received, found in the body
 * text; the options are the options of `POST /jobs`, given as an object and resolved with
 * this manager's defaults, so every manager enqueues the same job for a tick.
 */
import { AppError, ErrorCode } from '../../errors.js';
import { isJsonObject } from '../../json-object.js';
import type { JobOptions } from '../../store/index.js';
import { type JsonBody, parsePayload } from '../http/read-json-body.js';
import { resolveCallback, type WebhookPolicy } from '../jobs/accept/callback.js';
import { OPTION_NAMES, parseJobOptions, type RequestedJob } from '../jobs/accept/options.js';
import { canonicalTimezone, cronTicks, DEFAULT_TIMEZONE, MAX_EVERY_SECONDS } from './ticks.js';

/** A schedule's name: also its path segment and part of each tick's Idempotency-Key. */
export const SCHEDULE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const FIELDS = ['name', 'cron', 'every_seconds', 'timezone', 'type', 'payload', 'options', 'catch_up'];

/** The body's bytes beyond one job's: the schedule's own fields. */
export const SCHEDULE_FIELDS_BYTES = 16 * 1024;

/** A schedule as the body asks for it, checked; the store's document is made from it. */
export interface ScheduleRequest {
  name: string;
  cron?: string;
  everySeconds?: number;
  timezone: string;
  catchUp: 'once' | 'skip';
  /** The tick jobs' type, options, parameters and callback URL (as given). */
  job: Pick<RequestedJob, 'type' | 'options' | 'params' | 'callbackUrl'>;
  payload: { text: string; bytes: number };
}

export interface ScheduleBodyRules {
  defaultOptions: JobOptions;
  allowedTypes: readonly string[];
  maxJsonDepth: number;
  forbidPrototypeKeys: boolean;
  webhooks?: WebhookPolicy;
  /** PAYLOAD_TOO_LARGE unless a tick's job would fit beanstalkd's max-job-size (JobService.checkQueuedSize). */
  checkQueuedSize: (request: RequestedJob, payloadText: string) => void;
}

const invalid = (message: string) => new AppError(ErrorCode.INVALID_SCHEDULE, message);

/** A schedule's name from a path or a body; 400 INVALID_SCHEDULE when it cannot be one. */
export function checkScheduleName(name: unknown): string {
  if (typeof name !== 'string' || !SCHEDULE_NAME.test(name))
    throw invalid(
      'name must be 1-64 characters: lower-case letters, digits, ., _ and -, starting with a letter or digit',
    );
  return name;
}

/** The body checked; every problem is a 400 with a stable code, and nothing is stored. */
export function parseScheduleBody(
  body: JsonBody,
  rules: ScheduleBodyRules,
  now = new Date(),
): ScheduleRequest {
  const { value, text } = body;
  if (!isJsonObject(value))
    throw invalid('the body must be a JSON object: {name, cron or every_seconds, payload, …}');
  const members = topLevelMembers(text);
  for (const [key, spans] of members) {
    if (!FIELDS.includes(key))
      throw invalid(`unknown field ${JSON.stringify(key)}; fields: ${FIELDS.join(', ')}`);
    if (spans.length > 1) throw invalid(`${key} is given more than once`);
  }
  const fields = value;
  const name = checkScheduleName(fields.name);
  const { cron, everySeconds, timezone } = checkWhen(fields, now);
  const catchUp = fields.catch_up ?? 'once';
  if (catchUp !== 'once' && catchUp !== 'skip') throw invalid('catch_up must be "once" or "skip"');

  const type = fields.type ?? undefined;
  if (type !== undefined && typeof type !== 'string') throw invalid('type must be a string');
  const job = parseJobOptions(optionsSource(fields.options, type), rules.defaultOptions, rules.allowedTypes);
  // A bad callback URL (or one given to a manager without webhooks) is refused now, not at a tick.
  resolveCallback(job.type, job.callbackUrl, rules.webhooks);

  const span = members.get('payload')?.[0];
  if (span === undefined) throw invalid('payload is required: the JSON object or array each tick enqueues');
  const payloadText = text.slice(span.start, span.end);
  parsePayload(payloadText, { maxDepth: rules.maxJsonDepth, forbidPrototypeKeys: rules.forbidPrototypeKeys });
  // The tick's mark travels with the job: size it with one (every ISO tick is 24 characters).
  rules.checkQueuedSize({ ...job, schedule: { name, tick: new Date(0).toISOString() } }, payloadText);

  return {
    name,
    ...(cron !== undefined ? { cron } : {}),
    ...(everySeconds !== undefined ? { everySeconds } : {}),
    timezone,
    catchUp,
    job,
    payload: { text: payloadText, bytes: Buffer.byteLength(payloadText) },
  };
}

/** Exactly one of `cron` and `every_seconds`, and a time zone only with a cron pattern. */
function checkWhen(
  fields: Record<string, unknown>,
  now: Date,
): { cron?: string; everySeconds?: number; timezone: string } {
  const { cron, every_seconds: every, timezone } = fields;
  if ((cron === undefined) === (every === undefined))
    throw invalid('give exactly one of cron (a cron pattern) and every_seconds (a period)');
  if (every !== undefined) {
    if (typeof every !== 'number' || !Number.isInteger(every) || every < 1 || every > MAX_EVERY_SECONDS)
      throw invalid(`every_seconds must be a whole number from 1 to ${MAX_EVERY_SECONDS}`);
    if (timezone !== undefined)
      throw invalid('timezone applies to cron only: every_seconds ticks at whole multiples since the epoch');
    return { everySeconds: every, timezone: DEFAULT_TIMEZONE };
  }
  if (typeof cron !== 'string') throw invalid('cron must be a string such as "0 3 * * *"');
  let zone = DEFAULT_TIMEZONE;
  if (timezone !== undefined) {
    const canonical = typeof timezone === 'string' ? canonicalTimezone(timezone) : null;
    if (canonical === null)
      throw invalid('timezone must be an IANA time zone name such as "Europe/Berlin" or "UTC"');
    zone = canonical;
  }
  try {
    cronTicks(cron, zone, now);
  } catch (error: unknown) {
    throw invalid(`cron: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { cron: cron.trim(), timezone: zone };
}

/** The `options` object as the option source of POST /jobs (type comes from the body's `type`). */
function optionsSource(options: unknown, type: string | undefined): (name: string) => string | undefined {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options)))
    throw new AppError(ErrorCode.INVALID_OPTION, 'options must be an object such as {"priority": 10}');
  const given = (options ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (key === 'type') throw new AppError(ErrorCode.INVALID_OPTION, 'type goes beside options, not in them');
    if (!(OPTION_NAMES as readonly string[]).includes(key))
      throw new AppError(
        ErrorCode.INVALID_OPTION,
        `unknown option ${JSON.stringify(key)}; options: ${OPTION_NAMES.filter((o) => o !== 'type').join(', ')}`,
      );
    const v = given[key];
    if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v)))
      throw new AppError(ErrorCode.INVALID_OPTION, `${key} must be a number or a string`);
  }
  return (name) => {
    if (name === 'type') return type;
    const v = given[name];
    return v === undefined ? undefined : String(v);
  };
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * Where each member of the top-level object of valid JSON `text` has its value: the key, and
 * the start and end of each value's text (a key given twice has two). The text was parsed
 * already, so this only has to find boundaries, never to judge.
 */
export function topLevelMembers(text: string): Map<string, Array<{ start: number; end: number }>> {
  const members = new Map<string, Array<{ start: number; end: number }>>();
  const skipSpace = (i: number) => {
    let at = i;
    while (at < text.length && WHITESPACE.has(text[at] as string)) at += 1;
    return at;
  };
  const stringEnd = (i: number) => {
    let at = i + 1;
    while (at < text.length && text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
    return at + 1;
  };
  const valueEnd = (i: number) => {
    const first = text[i];
    if (first === '"') return stringEnd(i);
    if (first !== '{' && first !== '[') {
      let at = i;
      while (at < text.length && !',}] \t\n\r'.includes(text[at] as string)) at += 1;
      return at;
    }
    let depth = 0;
    let at = i;
    while (at < text.length) {
      const c = text[at];
      if (c === '"') {
        at = stringEnd(at);
        continue;
      }
      if (c === '{' || c === '[') depth += 1;
      else if (c === '}' || c === ']') {
        depth -= 1;
        if (depth === 0) return at + 1;
      }
      at += 1;
    }
    return at;
  };
  let at = skipSpace(0);
  if (text[at] !== '{') return members;
  at = skipSpace(at + 1);
  while (at < text.length && text[at] === '"') {
    const keyEnd = stringEnd(at);
    const key = JSON.parse(text.slice(at, keyEnd)) as string;
    at = skipSpace(skipSpace(keyEnd) + 1); // past the colon
    const end = valueEnd(at);
    members.set(key, [...(members.get(key) ?? []), { start: at, end }]);
    at = skipSpace(end);
    if (text[at] === ',') at = skipSpace(at + 1);
  }
  return members;
}
