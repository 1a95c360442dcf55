/**
 * What accept stores and answers for a job: its record (the job as received, its options and
 * where it belongs: group, schedule, flow, callback) and the 202's body for it.
 */
import { jobIdTime } from '../../../jobs/job-id.js';
import type { JobDocument } from '../../../store/index.js';
import { resolveCallback, type WebhookPolicy } from './callback.js';
import type { AcceptResult } from './idempotency.js';
import type { RequestedJob } from './options.js';

/** The job's record as accept stores it (`createdAt`: its id's own time); a bad callback URL throws. */
export function jobRecord(
  id: string,
  request: RequestedJob,
  payload: { text: string; bytes: number },
  webhooks: WebhookPolicy | undefined,
): JobDocument {
  const { type, options, params } = request;
  const callback = resolveCallback(type, request.callbackUrl, webhooks);
  return {
    _id: id,
    type,
    payload: payload.text,
    bytes: payload.bytes,
    options,
    ...(Object.keys(params).length > 0 ? { params: { ...params } } : {}),
    ...(request.matrix
      ? { group: request.matrix.group, combination: { ...request.matrix.combination } }
      : {}),
    ...(callback !== undefined ? { callback } : {}),
    ...(request.schedule ? { schedule: { name: request.schedule.name, tick: request.schedule.tick } } : {}),
    ...(request.flow
      ? {
          flow: {
            dependsOn: [...request.flow.dependsOn],
            onParentFailure: request.flow.onParentFailure,
            ...(request.flow.afterGroup !== undefined ? { afterGroup: request.flow.afterGroup } : {}),
          },
        }
      : {}),
    // The id's own time: a GET that reads no record shows the same createdAt.
    createdAt: jobIdTime(id),
  };
}

/** The answer for a job this request recorded and queued. */
export function acceptedOf(record: JobDocument): AcceptResult {
  const { _id: id, type, options, createdAt } = record;
  const state = record.flow !== undefined ? 'waiting' : options.delay > 0 ? 'delayed' : 'queued';
  return { id, state, type, createdAt: createdAt.toISOString(), replayed: false };
}
