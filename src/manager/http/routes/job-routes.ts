/** The jobs part of the route table (routes.ts): submitting, reading, steering jobs (a type's: type-routes.ts). */

import { ErrorCode } from '../../../errors.js';
import { BatchRequestSchema, BatchResultSchema } from '../schemas/batch-schemas.js';
import {
  GroupListSchema,
  GroupSchema,
  MatrixRequestSchema,
  MatrixResultSchema,
} from '../schemas/group-schemas.js';
import {
  AcceptedJobSchema,
  JobIdSchema,
  JobListSchema,
  JobPayloadSchema,
  JobStateChangeSchema,
  JobViewSchema,
  OutcomesRequestSchema,
  OutcomesSchema,
} from '../schemas/schemas.js';
import { BACKENDS, type RouteSpec } from './route-spec.js';
import { TYPE_ROUTES } from './type-routes.js';

const BODY_ERRORS = [
  ErrorCode.INVALID_JSON,
  ErrorCode.INVALID_UTF8,
  ErrorCode.JSON_TOO_DEEP,
  ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  ErrorCode.PAYLOAD_TOO_LARGE,
] as const;

const JOB_OPTION_ERRORS = [
  ErrorCode.INVALID_OPTION,
  ErrorCode.INVALID_DEPENDS_ON,
  ErrorCode.UNKNOWN_PARENT,
  ErrorCode.UNKNOWN_JOB_TYPE,
  ErrorCode.INVALID_CALLBACK_URL,
  ErrorCode.WEBHOOKS_DISABLED,
  ErrorCode.INVALID_IDEMPOTENCY_KEY,
  ErrorCode.REQUEST_TIMEOUT,
] as const;

const CALLBACK_URL_DESCRIPTION =
  'where to POST a signed JSON event when the job ends (completed, failed for good, cancelled); http or https, at most 2,048 characters, no user:pass@, and a public address unless WEBHOOK_ALLOW_PRIVATE=true, else 400 INVALID_CALLBACK_URL; 400 WEBHOOKS_DISABLED when the manager has no WEBHOOK_SECRET. Without it: the WEBHOOK_URLS default of the job type, if any (docs/completion-design.md, Webhooks)';

const DEPENDS_ON_DESCRIPTION =
  'comma-separated ids of 1-100 jobs this one waits for (no repeats): it is `waiting` until they end, then runs if they all completed; a malformed list is 400 INVALID_DEPENDS_ON, an id with no job 422 UNKNOWN_PARENT, and nothing is stored (docs/flows-design.md)';
const ON_PARENT_FAILURE_DESCRIPTION =
  'with depends_on: fail (default; a failed parent fails the job, a cancelled one cancels it), cancel (either cancels it), run (it runs once every parent ended, whatever their outcomes)';

const postJob = (path: string, operationId: string, summary: string): RouteSpec => ({
  method: 'POST',
  path,
  operationId,
  handler: 'postJob',
  tag: 'jobs',
  summary,
  description:
    'Records the job in MongoDB, then queues it in beanstalkd; answers 202 only when both have it. A payload holding a __proto__ key, or a constructor key holding a prototype key, is 400 FORBIDDEN_KEY (as Fastify refuses them) unless ALLOW_PROTOTYPE_KEYS=true. Options (type, priority, delay, ttr, attempts, algorithm, encoding, mean_ms, fail_rate, callback_url, depends_on, on_parent_failure) come as query parameters or X-Job-* headers; for hash, encoding=json (the default) digests the JSON string encoding of the payload text, as the original system did, encoding=raw the bytes as sent; type is one of JOB_TYPES (default: hash, simulate, metrics, summary), else 400 UNKNOWN_JOB_TYPE. An Idempotency-Key header makes a retry of the same request (type, options and payload bytes) return the first job (200, Idempotent-Replayed: true); the key with another request is 422 IDEMPOTENCY_KEY_REUSED.',
  queryParams: {
    callback_url: { description: CALLBACK_URL_DESCRIPTION, schema: { type: 'string', maxLength: 2048 } },
    depends_on: { description: DEPENDS_ON_DESCRIPTION, schema: { type: 'string', maxLength: 3800 } },
    on_parent_failure: {
      description: ON_PARENT_FAILURE_DESCRIPTION,
      schema: { type: 'string', enum: ['fail', 'cancel', 'run'], default: 'fail' },
    },
  },
  headerParams: {
    'X-Job-Callback-Url': {
      description: 'the same as ?callback_url= (both given and different: 400 INVALID_OPTION)',
      schema: { type: 'string', maxLength: 2048 },
    },
    'X-Job-Depends-On': {
      description: 'the same as ?depends_on= (both given and different: 400 INVALID_OPTION)',
      schema: { type: 'string', maxLength: 3800 },
    },
    'X-Job-On-Parent-Failure': {
      description: 'the same as ?on_parent_failure=',
      schema: { type: 'string', enum: ['fail', 'cancel', 'run'] },
    },
  },
  requestBody: { description: 'the job', schema: JobPayloadSchema, example: { example: 'data' } },
  responses: {
    200: {
      description: 'an Idempotency-Key seen before: the job it created first, as it is now',
      schema: AcceptedJobSchema,
      headers: { 'Idempotent-Replayed': { description: 'true', schema: { type: 'string' } } },
    },
    202: {
      description: 'accepted: recorded and queued',
      schema: AcceptedJobSchema,
      headers: { Location: { description: '/jobs/{id} of the new job', schema: { type: 'string' } } },
    },
  },
  errors: [
    ...BODY_ERRORS,
    ErrorCode.INVALID_JOB,
    ErrorCode.FORBIDDEN_KEY,
    ...JOB_OPTION_ERRORS,
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ...BACKENDS,
  ],
});

const getJob = (path: string, operationId: string, summary: string): RouteSpec => ({
  method: 'GET',
  path,
  operationId,
  handler: 'getJob',
  tag: 'jobs',
  summary,
  description:
    "The job's state: its outcome once it has one (from MongoDB), else beanstalkd's live view while it waits or runs; and its payload, in every state, as the JSON value sent (parsed from the text stored at accept), unless ?payload=false. With ?wait=N (1-60 seconds) it answers as soon as the job is completed, failed or cancelled — on any worker or manager — or after N seconds (or when the manager starts stopping) with the state it has then (long-poll; docs/completion-design.md).",
  pathParams: { id: JobIdSchema },
  queryParams: {
    payload: {
      description:
        'false: leave the payload out of the answer (one store read fewer for a finished job); default true',
      schema: { type: 'string', enum: ['true', 'false'], default: 'true' },
    },
    wait: {
      description:
        'seconds to wait for the job to end before answering (0-60, default 0: answer at once); a job already ended answers at once',
      schema: { type: 'integer', minimum: 0, maximum: 60, default: 0 },
    },
  },
  responses: { 200: { description: 'the job', schema: JobViewSchema } },
  errors: [
    ErrorCode.INVALID_ID,
    ErrorCode.INVALID_QUERY,
    ErrorCode.NOT_FOUND,
    ErrorCode.TOO_MANY_WAITERS,
    ...BACKENDS,
  ],
});

/** In order: Koa tries routes in this order and the first handler answers, so `/{id}` is last. */
export const JOB_ROUTES: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/jobs',
    operationId: 'listJobs',
    handler: 'listJobs',
    tag: 'jobs',
    summary: 'List jobs, newest first: filter by state, type, group, creation time; cursor pages',
    description:
      'Query: state, type, group (a matrix group id), created_after, created_before (ISO 8601), limit (1-500, default 50), cursor (the nextCursor of the previous page: an opaque position in the job log). Newest first, in the order jobs were recorded (state=failed and state=cancelled: newest ended first); pages stay stable while jobs are added. A request makes at most ten store reads per job asked for: a filter that matches little may answer fewer jobs than limit, with the nextCursor to go on from.',
    responses: { 200: { description: 'a page of jobs', schema: JobListSchema } },
    errors: [ErrorCode.INVALID_QUERY, ...BACKENDS],
  },
  ...TYPE_ROUTES,
  postJob(
    '/',
    'postJobAtRoot',
    "Enqueue one JSON job (the original path; with ACCEPT_ANY_PATH, any path outside the API's own names)",
  ),
  postJob('/jobs', 'postJob', 'Enqueue one JSON job'),
  {
    method: 'POST',
    path: '/jobs/outcomes',
    operationId: 'lookupOutcomes',
    handler: 'lookupOutcomes',
    tag: 'jobs',
    summary: 'The outcomes of many jobs at once (one store query)',
    description:
      'For tools that follow many jobs (the `load` command): one query for up to 10,000 ids, instead of one GET each. Reads `results` only: ids without an outcome, unknown ones included, are listed as unfinished.',
    requestBody: {
      description: 'the ids to look up',
      schema: OutcomesRequestSchema,
      example: { ids: ['01a2088b-df96-7646-bd15-7540a8817d53'] },
    },
    responses: { 200: { description: 'outcomes found, and the ids without one', schema: OutcomesSchema } },
    errors: [...BODY_ERRORS, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_ID, ErrorCode.STORE_UNAVAILABLE],
  },
  {
    method: 'POST',
    path: '/jobs/batch',
    operationId: 'postBatch',
    handler: 'postBatch',
    tag: 'jobs',
    summary: 'Enqueue many jobs: NDJSON (one payload per line) or a JSON array of items',
    description:
      "Every item is validated before anything is recorded — options, type, depth, size once queued (beanstalkd's max-job-size), an idempotencyKey used once per batch — and 400 INVALID_BATCH lists the bad ones, each with its code (e.g. JSON_TOO_DEEP, FORBIDDEN_KEY, PAYLOAD_TOO_LARGE, IDEMPOTENCY_KEY_REUSED). 202 when all were accepted, 207 when some, 503 when none because a backend failed, 422 when none for the client's reasons (an idempotencyKey first used with another item: IDEMPOTENCY_KEY_REUSED); each item says its id or its error, in order.",
    requestBody: {
      description: 'the jobs',
      schema: BatchRequestSchema,
      example: [{ payload: { example: 'data' } }],
    },
    responses: {
      202: { description: 'all accepted', schema: BatchResultSchema },
      207: { description: 'some accepted: see each item', schema: BatchResultSchema },
      422: {
        description:
          'none accepted, each for a reason of the request (IDEMPOTENCY_KEY_REUSED): see each item',
        schema: BatchResultSchema,
      },
      503: { description: 'none accepted: a backend failed', schema: BatchResultSchema },
    },
    errors: [...BODY_ERRORS, ErrorCode.INVALID_BATCH, ErrorCode.INVALID_ON_COMPLETE, ...JOB_OPTION_ERRORS],
  },
  {
    method: 'POST',
    path: '/jobs/matrix',
    operationId: 'postMatrix',
    handler: 'postMatrix',
    tag: 'jobs',
    summary: 'Fan one request out into a job per combination of named axes, minus exclusions; one group id',
    description:
      "Each job's payload is the template with its combination's keys set (stored and hashed as compact JSON); a template holding a __proto__ key, or a constructor key holding a prototype key, is 400 FORBIDDEN_KEY unless ALLOW_PROTOTYPE_KEYS=true. Options come from the query or X-Job-* headers. 202 all accepted, 207 some (or the completion job not), 503 none. Follow it with GET /groups/{id}. With `on_complete`, a completion job is accepted after the group's jobs and runs once every one of them has ended, with the group's results (docs/flows-design.md). Bounds, checked before any job is built: 1-10 axes of 1-100 values; the axes' product at most ten times BATCH_MAX_ITEMS and at most BATCH_MAX_ITEMS kept; at most 1,000 rules and 2,000,000 rule checks (product x rules); each job within max-job-size (413) and all payloads within BATCH_MAX_BYTES (413); the body at most 1 MiB plus one job's size; no key twice in one object.",
    requestBody: {
      description: 'template, axes, exclusion rules',
      schema: MatrixRequestSchema,
      example: {
        template: { suite: 'smoke' },
        axes: { browser: ['chrome', 'firefox'], viewport: ['desktop', 'mobile'] },
        exclude: [{ browser: 'firefox', viewport: 'mobile' }],
      },
    },
    responses: {
      202: { description: 'all accepted', schema: MatrixResultSchema },
      207: { description: 'some accepted: see each job', schema: MatrixResultSchema },
      503: { description: 'none accepted: a backend failed', schema: MatrixResultSchema },
    },
    errors: [
      ...BODY_ERRORS,
      ErrorCode.INVALID_MATRIX,
      ErrorCode.INVALID_ON_COMPLETE,
      ErrorCode.FORBIDDEN_KEY,
      ...JOB_OPTION_ERRORS,
      ErrorCode.STORE_UNAVAILABLE,
    ],
  },
  {
    method: 'GET',
    path: '/groups',
    operationId: 'listGroups',
    handler: 'listGroups',
    tag: 'jobs',
    summary: 'List matrix groups, newest first, each with its progress in brief; cursor pages',
    description:
      "Query: limit (1-100, default 20), cursor (the nextCursor of the previous page: a position in the group index). Groups come from the group index, one mark per group written before its fan-out, walked down from the newest: newest first by when the fan-out began, each once, and paging never shows one twice; a page costs a few point reads whatever the history. A request makes at most ten store reads per group asked for; a group whose fan-out accepted nothing or is still running is left out, so a page may hold fewer than limit, with the nextCursor to go on from. Each group's summary (finished, done, counts by outcome and `unfinished`) comes from its marks, as GET /groups/{id}'s does, without the live state of each open job.",
    responses: { 200: { description: 'a page of groups', schema: GroupListSchema } },
    errors: [ErrorCode.INVALID_QUERY, ErrorCode.STORE_UNAVAILABLE],
  },
  {
    method: 'GET',
    path: '/groups/{id}',
    operationId: 'getGroup',
    handler: 'getGroup',
    tag: 'jobs',
    summary:
      "A matrix group's progress: counts by state, finished/total, throughput, failures, results when done",
    pathParams: { id: JobIdSchema },
    responses: { 200: { description: 'the group', schema: GroupSchema } },
    errors: [ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND, ...BACKENDS],
  },
  {
    method: 'POST',
    path: '/jobs/{id}/retry',
    operationId: 'retryJob',
    handler: 'retryJob',
    tag: 'jobs',
    summary: 'Bring a failed job back with a full attempt budget',
    pathParams: { id: JobIdSchema },
    responses: { 202: { description: 'queued again', schema: JobStateChangeSchema } },
    errors: [ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND, ErrorCode.JOB_NOT_RETRYABLE, ...BACKENDS],
  },
  {
    method: 'DELETE',
    path: '/jobs/{id}',
    operationId: 'cancelJob',
    handler: 'cancelJob',
    tag: 'jobs',
    summary: 'Cancel a job that has not completed (queued, delayed, running or failed)',
    pathParams: { id: JobIdSchema },
    responses: { 200: { description: 'cancelled', schema: JobStateChangeSchema } },
    errors: [ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND, ErrorCode.JOB_NOT_CANCELLABLE, ...BACKENDS],
  },
  getJob('/jobs/{id}', 'getJob', 'A job: state, live queue fields, outcome'),
  getJob('/{id}', 'getJobAtRoot', 'A job (the original path; a trailing slash is accepted)'),
];
