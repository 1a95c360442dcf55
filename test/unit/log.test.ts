/** The logger's one error key (`err`): what it keeps and what it never writes. */
import assert from 'node:assert/strict';
import { serializeError } from '../../src/log.js';

describe('logged errors (unit)', () => {
  it('when an error carries the documents of a failed write, then only its type, message, code, stack and cause are logged', () => {
    const cause = new Error('connection reset');
    const error = Object.assign(new Error('bulk write failed', { cause }), {
      name: 'MongoBulkWriteError',
      code: 11000,
      writeErrors: [{ op: { _id: 'a', payload: '{"secret":"s3cr3t"}' } }],
    });
    const logged = serializeError(error) as Record<string, unknown>;
    assert.deepEqual(Object.keys(logged).sort(), ['cause', 'code', 'message', 'stack', 'type']);
    assert.equal(logged.type, 'MongoBulkWriteError');
    assert.equal(logged.cause, 'connection reset');
    assert.ok(!JSON.stringify(logged).includes('s3cr3t'), 'no document of the failed write');
  });

  it('when something other than an Error is thrown, then its text is logged as the message', () => {
    assert.deepEqual(serializeError('boom'), { message: 'boom' });
  });
});
