/**
 * A group's completion job: `on_complete` on `POST /jobs/matrix` and on a JSON batch
 * (docs/flows-design.md, "A group's completion job"). It is accepted after the group's jobs, as
 * a waiter whose one condition is the group's end; the flow loop releases it once every member
 * has an outcome (judged here, from the group's marks), and its handler reads the results
 * through `context.group`. Its id is minted first and kept in the group document, so
 * `GET /groups/<id>` names it.
 */

import { AppError, ErrorCode, isAppError } from '../../errors.js';
import { DEFAULT_ON_COMPLETE_TYPE } from '../../handlers/index.js';
import { type GroupResults, readGroupResults } from '../../jobs/group-results.js';
import { isJsonObject } from '../../json-object.js';
import type { Groups, JobOptions } from '../../store/index.js';
import { toAppError } from '../error-answers.js';
import { parsePayload } from '../http/read-json-body.js';
import type { JobService } from '../jobs/accept/accept.js';
import { OPTION_NAMES, parseJobOptions, type RequestedJob } from '../jobs/accept/options.js';

/** What `on_complete` may hold: the job's payload and the options of one job. */
const FIELDS = new Set<string>(['payload', ...OPTION_NAMES]);

export interface OnCompleteRules {
  defaultOptions: JobOptions;
  allowedTypes: readonly string[];
  maxJsonDepth: number;
  forbidPrototypeKeys: boolean;
}

/** A checked `on_complete`: the completion job's request and payload text, not yet tied to a group. */
export interface OnCompleteSpec {
  request: RequestedJob;
  text: string;
}

function invalid(message: string): AppError {
  return new AppError(ErrorCode.INVALID_ON_COMPLETE, `on_complete: ${message}`);
}

/**
 * Checks `on_complete` — `{"type"?, "payload"?, "priority"?, "ttr"?, …}`: the options of one
 * job, `type` by default `summary`, `payload` by default `{}` — before anything is stored.
 */
export function parseOnComplete(value: unknown, rules: OnCompleteRules): OnCompleteSpec {
  if (!isJsonObject(value)) throw invalid('an object such as {"type": "summary", "payload": {…}}');
  const fields = value;
  const unknown = Object.keys(fields).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) throw invalid(`unknown field(s): ${unknown.join(', ')}`);
  try {
    const text = JSON.stringify(fields.payload ?? {});
    parsePayload(text, { maxDepth: rules.maxJsonDepth, forbidPrototypeKeys: rules.forbidPrototypeKeys });
    const request = parseJobOptions(
      (name) => {
        const given = fields[name];
        if (given === undefined) return name === 'type' ? DEFAULT_ON_COMPLETE_TYPE : undefined;
        if (typeof given === 'number' || typeof given === 'string') return String(given);
        throw invalid(`${name} must be a number or a string`);
      },
      rules.defaultOptions,
      rules.allowedTypes,
    );
    return { request, text };
  } catch (error: unknown) {
    // The option's own code (UNKNOWN_JOB_TYPE, INVALID_OPTION …), said to be about on_complete.
    if (isAppError(error) && !error.message.startsWith('on_complete:'))
      throw new AppError(error.code, `on_complete: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The completion job of `group` as accept takes it: no parents, runs whatever the members' outcomes. */
export function completionRequest(spec: OnCompleteSpec, group: string, id: string): RequestedJob {
  return {
    ...spec.request,
    flow: { dependsOn: [], onParentFailure: 'run', afterGroup: group },
    presetId: id,
  };
}

/**
 * Accepts the completion job once the group's jobs were accepted and its document stored: its
 * place in the answer, `{id, state}` or `{id, error}` (the group's jobs stay accepted).
 */
export async function acceptCompletion(
  jobs: JobService,
  spec: OnCompleteSpec,
  group: string,
  id: string,
): Promise<{ id: string; state: string } | { id: string; error: { code: string; message: string } }> {
  try {
    const accepted = await jobs.accept(completionRequest(spec, group, id), {
      text: spec.text,
      bytes: Buffer.byteLength(spec.text),
    });
    return { id: accepted.id, state: accepted.state };
  } catch (error: unknown) {
    const failure = toAppError(error);
    return { id, error: { code: failure.code, message: failure.message } };
  }
}

/** What a completion job does now, judged from its group's marks (two reads by `_id`). */
export async function groupVerdict(
  store: Pick<Groups, 'findGroup' | 'readGroupMarks'>,
  group: string,
): Promise<{ release: true } | { missing: true } | { wait: GroupResults }> {
  const results = await readGroupResults(store, group);
  if (results === null) return { missing: true };
  return results.done ? { release: true } : { wait: results };
}
