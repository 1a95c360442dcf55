/**
 * POST /jobs/outcomes: the outcomes of many jobs in one store query, for tools that follow
 * thousands of jobs (`load`). The body is checked against OutcomesRequestSchema's own limits.
 */
import type { IncomingMessage } from 'node:http';
import { MANAGER_SETTINGS } from '../../../config/manager-settings.js';
import { AppError, ErrorCode } from '../../../errors.js';
import { parseJobId } from '../../../jobs/job-id.js';
import { isJsonObject } from '../../../json-object.js';
import type { OutcomeSummary, Store } from '../../../store/index.js';
import { readJsonBody } from '../../http/read-json-body.js';
import { MAX_LOOKUP_IDS } from '../../http/schemas/schemas.js';

/** 10,000 ids of 36 characters, quoted and separated, with room for spacing. */
const LIMIT_BYTES = 1_048_576;

export interface OutcomesView {
  outcomes: Array<{
    id: string;
    type: string;
    state: OutcomeSummary['outcome'];
    worker: string;
    startedAt: string;
    finishedAt: string;
    durationMs: number;
  }>;
  unfinished: string[];
}

/** The ids of a lookup request, canonical and without repeats; 400 for anything else. */
export function parseLookup(value: unknown): string[] {
  if (!isJsonObject(value)) {
    throw new AppError(ErrorCode.INVALID_REQUEST, 'send {"ids": [job ids]}');
  }
  const extra = Object.keys(value).filter((key) => key !== 'ids');
  if (extra.length > 0) throw new AppError(ErrorCode.INVALID_REQUEST, `unknown field ${extra[0]}`);
  const { ids } = value as { ids?: unknown };
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > MAX_LOOKUP_IDS) {
    throw new AppError(ErrorCode.INVALID_REQUEST, `ids must be an array of 1 to ${MAX_LOOKUP_IDS} job ids`);
  }
  const canonical = new Set<string>();
  for (const raw of ids) {
    const id = parseJobId(raw);
    if (id === null)
      throw new AppError(ErrorCode.INVALID_ID, `not a job id: ${JSON.stringify(raw).slice(0, 60)}`);
    canonical.add(id);
  }
  return [...canonical];
}

export async function lookupOutcomes(
  req: IncomingMessage,
  store: Store,
  bodyTimeoutMs = MANAGER_SETTINGS.BODY_TIMEOUT_MS.default,
): Promise<OutcomesView> {
  let value: unknown;
  try {
    // Only `ids` is read from it, and nothing of it reaches a handler: prototype keys are the
    // unknown fields parseLookup refuses.
    value = (
      await readJsonBody(req, {
        limitBytes: LIMIT_BYTES,
        maxDepth: 3,
        timeoutMs: bodyTimeoutMs,
        forbidPrototypeKeys: false,
      })
    ).value;
  } catch (error: unknown) {
    // readJsonBody speaks of job payloads; here a non-object is a malformed request.
    if (error instanceof AppError && error.code === ErrorCode.INVALID_JOB) {
      throw new AppError(ErrorCode.INVALID_REQUEST, 'send {"ids": [job ids]}');
    }
    throw error;
  }
  const ids = parseLookup(value);
  const found = await store.findOutcomes(ids);
  const done = new Set(found.map((doc) => doc._id));
  return {
    outcomes: found.map((doc) => ({
      id: doc._id,
      type: doc.type,
      state: doc.outcome,
      worker: doc.worker,
      startedAt: doc.startedAt.toISOString(),
      finishedAt: doc.finishedAt.toISOString(),
      durationMs: doc.durationMs,
    })),
    unfinished: ids.filter((id) => !done.has(id)),
  };
}
