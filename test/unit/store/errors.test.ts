import assert from 'node:assert/strict';
import { MongoError, MongoNetworkError } from 'mongodb';
import { isTransientStoreError } from '../../../src/store/errors.js';

/** A driver error whose class reports this name (the driver's own classes are not all exported). */
function namedError(name: string): MongoError {
  const error = new MongoError(`a ${name}`);
  Object.defineProperty(error, 'name', { value: name });
  return error;
}

describe('store errors (store/errors)', () => {
  it('when the pool has no connection to give before its wait ends, or was cleared, then the error is transient (a 503, retried), not a 500', () => {
    assert.equal(isTransientStoreError(namedError('MongoWaitQueueTimeoutError')), true);
    assert.equal(isTransientStoreError(namedError('MongoPoolClearedError')), true);
  });

  it('when the network fails, then transient; when the server refuses the write for a reason of its own, then not', () => {
    assert.equal(isTransientStoreError(new MongoNetworkError('gone')), true);
    assert.equal(isTransientStoreError(namedError('MongoServerError')), false);
    assert.equal(isTransientStoreError(new Error('not a driver error')), false);
  });
});
