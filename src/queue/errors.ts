/**
 * Normalises what jackd throws (plain `Error('NOT_FOUND')`, `InvalidResponseError('Unexpected
 * response: NOT_FOUND')`, socket errors without our codes) into one QueueError with a stable code.
 */

export const QueueErrorCode = Object.freeze({
  /** The job id is unknown to beanstalkd (or not reserved by this connection). */
  NOT_FOUND: 'NOT_FOUND',
  /** The body is larger than the server's max-job-size. */
  JOB_TOO_BIG: 'JOB_TOO_BIG',
  /** The server was out of memory and buried the job it was asked to put. */
  PUT_BURIED: 'PUT_BURIED',
  /** The server is draining and accepts no new jobs. */
  DRAINING: 'DRAINING',
  /** reserve-with-timeout ended without a job. */
  TIMED_OUT: 'TIMED_OUT',
  /** A job this connection reserved is about to reach its TTR. */
  DEADLINE_SOON: 'DEADLINE_SOON',
  /** The server could not be reached, or the connection closed under the command. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The server did not answer within the command timeout; the connection was dropped. */
  TIMEOUT: 'TIMEOUT',
  /** An id, tube or option that must never reach the protocol line. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** OUT_OF_MEMORY, INTERNAL_ERROR, BAD_FORMAT, UNKNOWN_COMMAND, EXPECTED_CRLF or an answer we did not expect. */
  SERVER_ERROR: 'SERVER_ERROR',
} as const);

export type QueueErrorCode = (typeof QueueErrorCode)[keyof typeof QueueErrorCode];

export class QueueError extends Error {
  readonly code: QueueErrorCode;
  /** For PUT_BURIED: the id of the job the server buried. */
  readonly jobId: string | undefined;
  /**
   * The command was written and the connection died (or timed out) before its reply: the
   * server may have done it. A put in doubt may have queued its job.
   */
  readonly inDoubt: boolean;

  constructor(
    code: QueueErrorCode,
    message: string,
    options: { cause?: unknown; jobId?: string; inDoubt?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'QueueError';
    this.code = code;
    this.jobId = options.jobId;
    this.inDoubt = options.inDoubt ?? false;
  }

  /** The same failure, for a command that had already gone out. */
  inDoubtCopy(): QueueError {
    return new QueueError(this.code, this.message, { cause: this, inDoubt: true });
  }
}

export function isQueueError(error: unknown, code?: QueueErrorCode): error is QueueError {
  return error instanceof QueueError && (code === undefined || error.code === code);
}

/** True when the queue could not be reached or did not answer: callers answer 503 or retry later. */
export function isQueueUnavailable(error: unknown): boolean {
  return (
    error instanceof QueueError &&
    (error.code === QueueErrorCode.UNAVAILABLE ||
      error.code === QueueErrorCode.TIMEOUT ||
      error.code === QueueErrorCode.SERVER_ERROR ||
      error.code === QueueErrorCode.DRAINING)
  );
}

const SERVER_ERRORS = ['OUT_OF_MEMORY', 'INTERNAL_ERROR', 'BAD_FORMAT', 'UNKNOWN_COMMAND', 'EXPECTED_CRLF'];

/** Turns anything jackd or the socket threw into a QueueError. */
export function normaliseQueueError(error: unknown, command: string): QueueError {
  if (error instanceof QueueError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const reply = message.replace(/^Unexpected response: /, '').trim();
  const word = reply.split(' ')[0] ?? '';
  switch (word) {
    case 'NOT_FOUND':
      return new QueueError(QueueErrorCode.NOT_FOUND, `${command}: job not found`, { cause: error });
    case 'JOB_TOO_BIG':
      return new QueueError(QueueErrorCode.JOB_TOO_BIG, `${command}: job larger than max-job-size`, {
        cause: error,
      });
    case 'BURIED': {
      const id = reply.split(' ')[1];
      return new QueueError(QueueErrorCode.PUT_BURIED, `${command}: server buried the job (out of memory)`, {
        cause: error,
        ...(id !== undefined && /^\d{1,20}$/.test(id) ? { jobId: id } : {}),
      });
    }
    case 'DRAINING':
      return new QueueError(QueueErrorCode.DRAINING, `${command}: server is draining`, { cause: error });
    case 'TIMED_OUT':
      return new QueueError(QueueErrorCode.TIMED_OUT, `${command}: timed out`, { cause: error });
    case 'DEADLINE_SOON':
      return new QueueError(QueueErrorCode.DEADLINE_SOON, `${command}: deadline soon`, { cause: error });
  }
  if (SERVER_ERRORS.includes(word) || message.startsWith('Unexpected response')) {
    return new QueueError(
      QueueErrorCode.SERVER_ERROR,
      `${command}: server answered ${word || 'unexpectedly'}`,
      {
        cause: error,
      },
    );
  }
  const code = (error as { code?: unknown } | null)?.code;
  const detail = typeof code === 'string' ? code : message;
  return new QueueError(QueueErrorCode.UNAVAILABLE, `${command}: beanstalkd unavailable (${detail})`, {
    cause: error,
  });
}
