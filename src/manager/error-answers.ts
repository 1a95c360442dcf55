/**
 * The one place an error becomes an answer: an AppError answers as itself, a backend that
 * could not be reached in time answers 503 with its code, a job beanstalkd refuses as too big
 * 413, anything else is unexpected (500).
 * The error boundary uses it for a request, batch and matrix fan-out for each item.
 */
import { AppError, ErrorCode, isAppError } from '../errors.js';
import { isQueueError, isQueueUnavailable, QueueErrorCode } from '../queue/index.js';
import { isStoreUnavailable } from '../store/index.js';

export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  if (isStoreUnavailable(error)) {
    return new AppError(ErrorCode.STORE_UNAVAILABLE, 'MongoDB is unavailable; try again', { cause: error });
  }
  if (isQueueError(error, QueueErrorCode.JOB_TOO_BIG)) {
    // A job recorded before beanstalkd's max-job-size was lowered, put again (retry, replay).
    return new AppError(ErrorCode.PAYLOAD_TOO_LARGE, "the job is larger than beanstalkd's max-job-size", {
      cause: error,
    });
  }
  if (isQueueUnavailable(error)) {
    return new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'beanstalkd is unavailable; try again', {
      cause: error,
    });
  }
  return new AppError(ErrorCode.INTERNAL, 'internal error', { cause: error });
}
