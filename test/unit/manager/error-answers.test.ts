/** How an error becomes an answer (manager/error-answers): the one mapping every route and batch item uses. */
import assert from 'node:assert/strict';
import { AppError, ErrorCode } from '../../../src/errors.js';
import { toAppError } from '../../../src/manager/error-answers.js';
import { QueueError, QueueErrorCode } from '../../../src/queue/index.js';
import { StoreUnavailableError } from '../../../src/store/index.js';

const answer = (error: unknown) => {
  const { code, status } = toAppError(error);
  return [code, status];
};

describe('error answers (manager/error-answers)', () => {
  it('when an AppError is thrown, then it answers as itself', () => {
    const error = new AppError(ErrorCode.INVALID_ID, 'not a job id');
    assert.equal(toAppError(error), error);
  });

  it('when MongoDB or beanstalkd could not be reached, then 503 with the backend named, the cause kept', () => {
    const store = new StoreUnavailableError('down');
    assert.deepEqual(answer(store), [ErrorCode.STORE_UNAVAILABLE, 503]);
    assert.equal(toAppError(store).cause, store);
    for (const code of [QueueErrorCode.UNAVAILABLE, QueueErrorCode.TIMEOUT, QueueErrorCode.DRAINING])
      assert.deepEqual(answer(new QueueError(code, 'x')), [ErrorCode.QUEUE_UNAVAILABLE, 503], code);
  });

  it('when beanstalkd refuses a copy as too big, then 413 PAYLOAD_TOO_LARGE, not a 500', () => {
    assert.deepEqual(answer(new QueueError(QueueErrorCode.JOB_TOO_BIG, 'put: too big')), [
      ErrorCode.PAYLOAD_TOO_LARGE,
      413,
    ]);
  });

  it('when anything else is thrown, then 500 INTERNAL with the cause kept for the log', () => {
    const bug = new TypeError('x is undefined');
    assert.deepEqual(answer(bug), [ErrorCode.INTERNAL, 500]);
    assert.equal(toAppError(bug).cause, bug);
    assert.deepEqual(answer(new QueueError(QueueErrorCode.NOT_FOUND, 'x')), [ErrorCode.INTERNAL, 500]);
  });
});
