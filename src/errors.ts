/**
 * One error model for the whole system: stable string codes, the HTTP status each maps
 * to, `cause` kept, and predicates instead of `instanceof` chains.
 */

export const ErrorCode = Object.freeze({
  BAD_REQUEST: 'BAD_REQUEST',
  INVALID_JSON: 'INVALID_JSON',
  INVALID_UTF8: 'INVALID_UTF8',
  JSON_TOO_DEEP: 'JSON_TOO_DEEP',
  FORBIDDEN_KEY: 'FORBIDDEN_KEY',
  INVALID_JOB: 'INVALID_JOB',
  INVALID_ID: 'INVALID_ID',
  INVALID_OPTION: 'INVALID_OPTION',
  UNKNOWN_JOB_TYPE: 'UNKNOWN_JOB_TYPE',
  INVALID_DEPENDS_ON: 'INVALID_DEPENDS_ON',
  INVALID_ON_COMPLETE: 'INVALID_ON_COMPLETE',
  UNKNOWN_PARENT: 'UNKNOWN_PARENT',
  INVALID_BATCH: 'INVALID_BATCH',
  INVALID_QUERY: 'INVALID_QUERY',
  INVALID_MATRIX: 'INVALID_MATRIX',
  INVALID_SCHEDULE: 'INVALID_SCHEDULE',
  INVALID_LIMITS: 'INVALID_LIMITS',
  INVALID_IDEMPOTENCY_KEY: 'INVALID_IDEMPOTENCY_KEY',
  INVALID_CALLBACK_URL: 'INVALID_CALLBACK_URL',
  WEBHOOKS_DISABLED: 'WEBHOOKS_DISABLED',
  INVALID_REQUEST: 'INVALID_REQUEST',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  JOB_NOT_RETRYABLE: 'JOB_NOT_RETRYABLE',
  JOB_NOT_CANCELLABLE: 'JOB_NOT_CANCELLABLE',
  SCHEDULE_NOT_FOUND: 'SCHEDULE_NOT_FOUND',
  SCHEDULE_EXISTS: 'SCHEDULE_EXISTS',
  TOO_MANY_SCHEDULES: 'TOO_MANY_SCHEDULES',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  RATE_LIMITED: 'RATE_LIMITED',
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  TOO_MANY_WAITERS: 'TOO_MANY_WAITERS',
  TOO_MANY_STREAMS: 'TOO_MANY_STREAMS',
  QUEUE_UNAVAILABLE: 'QUEUE_UNAVAILABLE',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const);

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_UTF8: 400,
  JSON_TOO_DEEP: 400,
  FORBIDDEN_KEY: 400,
  INVALID_JOB: 400,
  INVALID_ID: 400,
  INVALID_OPTION: 400,
  UNKNOWN_JOB_TYPE: 400,
  INVALID_DEPENDS_ON: 400,
  INVALID_ON_COMPLETE: 400,
  UNKNOWN_PARENT: 422,
  INVALID_BATCH: 400,
  INVALID_QUERY: 400,
  INVALID_MATRIX: 400,
  INVALID_SCHEDULE: 400,
  INVALID_LIMITS: 400,
  INVALID_IDEMPOTENCY_KEY: 400,
  INVALID_CALLBACK_URL: 400,
  WEBHOOKS_DISABLED: 400,
  INVALID_REQUEST: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  JOB_NOT_RETRYABLE: 409,
  JOB_NOT_CANCELLABLE: 409,
  SCHEDULE_NOT_FOUND: 404,
  SCHEDULE_EXISTS: 409,
  TOO_MANY_SCHEDULES: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  REQUEST_TIMEOUT: 408,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  TOO_MANY_WAITERS: 503,
  TOO_MANY_STREAMS: 503,
  QUEUE_UNAVAILABLE: 503,
  STORE_UNAVAILABLE: 503,
  INTERNAL: 500,
});

/** An error with a stable code that the HTTP boundary turns into `{error:{code,message}}`. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = STATUS[code];
    this.headers = options.headers ?? {};
  }
}

/** The HTTP status an error code maps to (the OpenAPI document lists them by this). */
export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** The message of any thrown value, for logs. Never includes payloads. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
