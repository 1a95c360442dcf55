import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode } from '../../../../../src/errors.js';
import { newJobId } from '../../../../../src/jobs/job-id.js';
import {
  formatCursor,
  MAX_LIST_LIMIT,
  parseCursor,
  parseListQuery,
} from '../../../../../src/manager/jobs/read/list-query.js';
import { JOB_STATES } from '../../../../../src/manager/jobs/read/views.js';

const STATES = JOB_STATES;

/** What assert.throws checks of a refused query: an AppError with INVALID_QUERY, and what the message says. */
function invalidQuery(message: RegExp) {
  return { name: 'AppError', code: ErrorCode.INVALID_QUERY, status: 400, message };
}

describe('GET /jobs query (manager/jobs/list-query)', () => {
  it('when no parameter is given, then the query is 50 jobs with no filter and no cursor', () => {
    assert.deepEqual(parseListQuery({}), { limit: 50 });
  });

  it('when every parameter is given, then each is read into the query', () => {
    const group = newJobId();

    const query = parseListQuery({
      state: 'running',
      type: 'simulate',
      group: group.toUpperCase(),
      created_after: '2024-01-02',
      created_before: '2024-01-02T03:04:05.678Z',
      limit: '7',
      cursor: '12.3',
    });

    assert.deepEqual(query, {
      state: 'running',
      type: 'simulate',
      group,
      createdAfter: new Date(Date.UTC(2024, 0, 2)),
      createdBefore: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
      limit: 7,
      cursor: { n: 12, index: 3 },
    });
  });

  it('when state is one of the eight job states (waiting too), then it is kept; any other word is INVALID_QUERY', () => {
    for (const state of STATES) assert.equal(parseListQuery({ state }).state, state);
    for (const state of ['', 'done', 'Queued', 'pending', 'queued ', 'failed,cancelled']) {
      assert.throws(
        () => parseListQuery({ state }),
        invalidQuery(
          /^state must be one of waiting, queued, delayed, running, buried, completed, failed, cancelled$/,
        ),
        JSON.stringify(state),
      );
    }
  });

  it('when type is not a job type name, then it is INVALID_QUERY; the longest valid name is kept', () => {
    const longest = `a${'b'.repeat(62)}`;
    assert.equal(parseListQuery({ type: longest }).type, longest);
    assert.equal(parseListQuery({ type: 'my_type-2' }).type, 'my_type-2');
    for (const type of ['', 'Hash', '1hash', '-hash', 'ha sh', `${longest}c`, 'hash\n']) {
      assert.throws(
        () => parseListQuery({ type }),
        invalidQuery(/^type is not a job type$/),
        JSON.stringify(type),
      );
    }
  });

  it('when group is not a UUIDv7, then it is INVALID_QUERY', () => {
    const v7 = newJobId();
    for (const group of ['', 'abc', '00000000-0000-4000-8000-000000000000', v7.replace(/-/g, ''), `${v7}0`]) {
      assert.throws(
        () => parseListQuery({ group }),
        invalidQuery(/^group must be a UUIDv7$/),
        JSON.stringify(group),
      );
    }
  });

  it('when a time bound is not an ISO 8601 time, then it is INVALID_QUERY naming the bound', () => {
    for (const text of [
      'yesterday',
      '1700000000000',
      '2024-13-01',
      '2024-1-2',
      '24-01-02',
      '2024-01-02x',
      '',
    ]) {
      assert.throws(
        () => parseListQuery({ created_after: text }),
        invalidQuery(/^created_after must be an ISO 8601 time$/),
        JSON.stringify(text),
      );
      assert.throws(
        () => parseListQuery({ created_before: text }),
        invalidQuery(/^created_before must be an ISO 8601 time$/),
        JSON.stringify(text),
      );
    }
  });

  it('when a time bound names a day past the end of its month, then it is INVALID_QUERY, not the next month', () => {
    assert.throws(
      () => parseListQuery({ created_after: '2024-02-30' }),
      invalidQuery(/created_after must be an ISO 8601 time \(2024-02-30 is not a day\)/),
    );
    assert.throws(
      () => parseListQuery({ created_before: '2023-02-29T00:00:00Z' }),
      invalidQuery(/not a day/),
    );
    assert.equal(
      parseListQuery({ created_after: '2024-02-29' }).createdAfter?.toISOString(),
      '2024-02-29T00:00:00.000Z',
      'a leap day is a day',
    );
  });

  it('when a time bound has an offset, then it is read as that instant', () => {
    const query = parseListQuery({ created_after: '2024-06-01T12:00:00+02:00' });

    assert.equal(query.createdAfter?.toISOString(), '2024-06-01T10:00:00.000Z');
  });

  it('when limit is an integer from 1 to 500, then it is the page size', () => {
    assert.equal(MAX_LIST_LIMIT, 500);
    assert.equal(parseListQuery({ limit: '1' }).limit, 1);
    assert.equal(parseListQuery({ limit: '500' }).limit, 500);
    assert.equal(parseListQuery({ limit: '050' }).limit, 50, 'leading zeros are still decimal');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_LIST_LIMIT }), (limit) => {
        assert.equal(parseListQuery({ limit: String(limit) }).limit, limit);
      }),
    );
  });

  it('when limit is out of bounds or not a plain integer, then it is INVALID_QUERY', () => {
    for (const limit of ['0', '501', '9999', '10000', '-1', '+1', '1.5', '1e2', ' 5', '5 ', '', 'ten']) {
      assert.throws(
        () => parseListQuery({ limit }),
        invalidQuery(/^limit must be an integer from 1 to 500$/),
        JSON.stringify(limit),
      );
    }
    fc.assert(
      fc.property(fc.integer({ min: MAX_LIST_LIMIT + 1, max: 2 ** 40 }), (limit) => {
        assert.throws(() => parseListQuery({ limit: String(limit) }), invalidQuery(/^limit must be/));
      }),
    );
  });

  it('when a parameter is unknown, then every unknown name is listed, before any value is checked', () => {
    assert.throws(
      () => parseListQuery({ sort: 'asc', limit: '0', page: '2' }),
      invalidQuery(/^unknown query parameter\(s\): sort, page$/),
    );
  });

  it('when a parameter is given more than once, then it is INVALID_QUERY naming it', () => {
    assert.throws(
      () => parseListQuery({ state: ['queued', 'failed'] }),
      invalidQuery(/^state is given more than once$/),
    );
    assert.throws(
      () => parseListQuery({ cursor: ['1.0', '1.0'] }),
      invalidQuery(/^cursor is given more than once$/),
    );
  });

  it('when a position is formatted as a cursor, then parsing the cursor gives the position back', () => {
    assert.equal(formatCursor({ n: 12, index: 3 }), '12.3');
    fc.assert(
      fc.property(
        fc.record(
          {
            n: fc.integer({ min: 0, max: 10 ** 15 - 1 }),
            index: fc.integer({ min: 0, max: 999_999 }),
          },
          { noNullPrototype: true },
        ),
        (position) => {
          const cursor = formatCursor(position);

          assert.deepEqual(parseCursor(cursor), position);
          assert.deepEqual(parseListQuery({ cursor }).cursor, position);
        },
      ),
    );
  });

  it('when a position is past the cursor format (index of 7 digits, segment of 16), then its cursor is refused', () => {
    assert.deepEqual(parseCursor(formatCursor({ n: 1, index: 999_999 })), { n: 1, index: 999_999 });
    assert.throws(
      () => parseCursor(formatCursor({ n: 1, index: 1_000_000 })),
      invalidQuery(/^cursor must be/),
    );
    assert.throws(
      () => parseCursor(formatCursor({ n: 10 ** 15, index: 0 })),
      invalidQuery(/^cursor must be/),
    );
  });

  it('when a cursor is malformed, then it is INVALID_QUERY', () => {
    for (const cursor of [
      '',
      '1',
      '1.',
      '.1',
      '1.2.3',
      '-1.0',
      '1.-1',
      '1,0',
      ' 1.0',
      '1.0\n',
      'abc',
      '0x1.0',
    ]) {
      assert.throws(
        () => parseListQuery({ cursor }),
        invalidQuery(/^cursor must be the nextCursor of an earlier page$/),
        JSON.stringify(cursor),
      );
    }
  });

  it('when any text is given as a cursor, then it is either refused with INVALID_QUERY or read into a position that formats back to an equal position', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.stringMatching(/^[0-9.]{1,24}$/)), (text) => {
        let position: ReturnType<typeof parseCursor>;
        try {
          position = parseCursor(text);
        } catch (error: unknown) {
          assert.equal((error as { code?: unknown }).code, ErrorCode.INVALID_QUERY);
          return;
        }
        assert.ok(Number.isSafeInteger(position.n) && position.n >= 0);
        assert.ok(Number.isSafeInteger(position.index) && position.index >= 0);
        assert.deepEqual(parseCursor(formatCursor(position)), position);
      }),
    );
  });
});
