/**
 * The `/types/{type}` part of the route table (job-routes.ts places it): steering every job of
 * a type at once — pause and resume its tube, retry its failed jobs, kick what is buried — and
 * its rate and concurrency limits.
 */
import { ErrorCode } from '../../../errors.js';
import { JobTypeSchema } from '../schemas/schemas.js';
import {
  KickSchema,
  LimitsRequestSchema,
  LimitsSchema,
  PauseSchema,
  RetryFailedSchema,
  SteerLimitSchema,
} from '../schemas/type-schemas.js';
import { BACKENDS, type RouteSpec } from './route-spec.js';

const TYPE_ERRORS =
  'A type that does not match the job type pattern is 400 INVALID_QUERY, as for pause; a well-formed type no manager accepts (not in JOB_TYPES) is served like any other (a type dropped from JOB_TYPES may still have failed jobs).';

const LIMIT = {
  limit: {
    description:
      'at most this many jobs (and, for kick, buried copies) per call, 1-10,000 (default 1,000); more: true says to call again',
    schema: SteerLimitSchema,
  },
};

export const TYPE_ROUTES: readonly RouteSpec[] = [
  {
    method: 'POST',
    path: '/types/{type}/pause',
    operationId: 'pauseType',
    handler: 'pauseType',
    tag: 'jobs',
    summary: 'Pause a job type: its jobs are not handed to workers for ?seconds=N',
    pathParams: { type: JobTypeSchema },
    responses: { 200: { description: 'paused', schema: PauseSchema } },
    errors: [ErrorCode.INVALID_QUERY, ErrorCode.QUEUE_UNAVAILABLE],
  },
  {
    method: 'POST',
    path: '/types/{type}/resume',
    operationId: 'resumeType',
    handler: 'resumeType',
    tag: 'jobs',
    summary: 'Resume a paused job type',
    pathParams: { type: JobTypeSchema },
    responses: { 200: { description: 'resumed', schema: PauseSchema } },
    errors: [ErrorCode.INVALID_QUERY, ErrorCode.QUEUE_UNAVAILABLE],
  },
  {
    method: 'POST',
    path: '/types/{type}/retry-failed',
    operationId: 'retryFailedJobs',
    handler: 'retryFailedJobs',
    tag: 'jobs',
    summary: 'Retry every failed job of a type, newest failed first, at most ?limit= per call',
    description: `Each failed job of the type gets what POST /jobs/{id}/retry does: its failed outcome removed, its buried copy deleted, a fresh copy queued with a full attempt budget. They are found through the failed jobs' marks (the list GET /jobs?state=failed reads), by point reads only; a type remembers which marks it has walked to the end, so a call reads only the marks written since and those an earlier call stopped short of. A job no longer failed when its turn comes (retried or cancelled meanwhile) is counted as skipped, not an error. A call handles at most limit jobs and makes at most ten store reads per job it may handle; more: true when it stopped there (call again until more is false). A backend failing midway answers 503: the jobs retried until then stay retried (the log says how many), the rest stay failed. ${TYPE_ERRORS}`,
    pathParams: { type: JobTypeSchema },
    queryParams: LIMIT,
    responses: { 200: { description: 'the counts of this call', schema: RetryFailedSchema } },
    errors: [ErrorCode.INVALID_QUERY, ...BACKENDS],
  },
  {
    method: 'POST',
    path: '/types/{type}/kick',
    operationId: 'kickBuriedJobs',
    handler: 'kickBuriedJobs',
    tag: 'jobs',
    summary:
      "Kick every buried job of a type: failed ones retried, the rest of the tube's buried copies kicked",
    description: `First what POST /types/{type}/retry-failed does (a buried copy of a failed job is never kicked as it is: a worker would find the failed outcome stored and drop it without a new outcome). Then each copy still buried in the type's tube, one at a time, in the order beanstalkd's peek-buried gives them: a copy of a failed job is that job retried; a copy whose job completed or was cancelled, was never recorded, or has another copy is deleted (counted in removed: running it would only repeat a finished job or run one nobody recorded); any other copy — a body that is not a job of ours, a job beanstalkd buried itself on put when out of memory — is made ready with kick-job (counted in kicked; our workers bury a body that is not ours again at once). Never beanstalkd's kick <bound>, which kicks delayed jobs when no buried one is left. limit counts retried, skipped and buried copies together; more: true when a call stopped there. ${TYPE_ERRORS}`,
    pathParams: { type: JobTypeSchema },
    queryParams: LIMIT,
    responses: { 200: { description: 'the counts of this call', schema: KickSchema } },
    errors: [ErrorCode.INVALID_QUERY, ...BACKENDS],
  },
  {
    method: 'GET',
    path: '/types/{type}/limits',
    operationId: 'getTypeLimits',
    handler: 'getTypeLimits',
    tag: 'jobs',
    summary: "A type's rate and concurrency limits, and its tokens in beanstalkd now",
    description: `limits is null when the type has none. tokens counts the type's run tokens (concurrency of them: reserved ones are jobs running now) and rate tokens (burst of them: delayed ones rest after a start) by state. ${TYPE_ERRORS}`,
    pathParams: { type: JobTypeSchema },
    responses: { 200: { description: 'the limits and tokens', schema: LimitsSchema } },
    errors: [ErrorCode.INVALID_QUERY, ...BACKENDS],
  },
  {
    method: 'PUT',
    path: '/types/{type}/limits',
    operationId: 'putTypeLimits',
    handler: 'putTypeLimits',
    tag: 'jobs',
    summary:
      'Limit a type: at most rate_per_second starts a second (burst at once), at most concurrency running',
    description: `Replaces the type's limits (fields left out are no limit) and makes its tokens in beanstalkd match them before answering; workers apply them within a couple of seconds (they read limits by type every 2 s). burst defaults to rate_per_second and must be a whole multiple of it: a rate token rests burst / rate_per_second whole seconds after each start, so in any second at most rate_per_second + burst jobs start, rate_per_second a second sustained. A bad body is 400 INVALID_LIMITS and changes nothing. Idempotent: beanstalkd down answers 503 with the limits possibly stored, the tokens then made by the next maintenance pass; send it again. Design and guarantees: docs/limits-design.md. ${TYPE_ERRORS}`,
    pathParams: { type: JobTypeSchema },
    requestBody: {
      description: 'the limits: rate_per_second and burst, concurrency, or both',
      schema: LimitsRequestSchema,
      example: { rate_per_second: 5, burst: 10, concurrency: 3 },
    },
    responses: { 200: { description: 'the limits now in force, and the tokens', schema: LimitsSchema } },
    errors: [
      ErrorCode.INVALID_QUERY,
      ErrorCode.INVALID_LIMITS,
      ErrorCode.INVALID_JSON,
      ErrorCode.INVALID_UTF8,
      ErrorCode.JSON_TOO_DEEP,
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      ErrorCode.PAYLOAD_TOO_LARGE,
      ErrorCode.REQUEST_TIMEOUT,
      ...BACKENDS,
    ],
  },
  {
    method: 'DELETE',
    path: '/types/{type}/limits',
    operationId: 'deleteTypeLimits',
    handler: 'deleteTypeLimits',
    tag: 'jobs',
    summary: "Remove a type's limits",
    description: `Workers stop asking for the type's tokens within a couple of seconds; the free tokens are deleted now, those workers hold once they give them back (a later maintenance pass). Removing limits a type does not have answers 200 as well. ${TYPE_ERRORS}`,
    pathParams: { type: JobTypeSchema },
    responses: { 200: { description: 'limits null, and the tokens left', schema: LimitsSchema } },
    errors: [ErrorCode.INVALID_QUERY, ...BACKENDS],
  },
];
