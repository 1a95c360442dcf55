import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode } from '../../../../../src/errors.js';
import {
  checkIdempotencyKey,
  DEFAULT_ACCEPTED_TYPES,
  type OptionSource,
  optionSource,
  parseJobOptions,
} from '../../../../../src/manager/jobs/accept/options.js';
import type { JobOptions } from '../../../../../src/store/index.js';

const DEFAULTS: JobOptions = Object.freeze({ priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 });

/** An option source over a plain object, as a request's merged query and headers would give. */
function given(values: Record<string, string>): OptionSource {
  return (name) => values[name];
}

function refused(code: ErrorCode, message: RegExp) {
  return { name: 'AppError', code, status: 400, message };
}

/** The numeric options: the name a client sends, the option it sets, and its bounds. */
const NUMERIC = [
  { name: 'priority', key: 'priority', min: 0, max: 2 ** 32 - 1 },
  { name: 'delay', key: 'delay', min: 0, max: 31_536_000 },
  { name: 'ttr', key: 'ttr', min: 1, max: 86_400 },
  { name: 'attempts', key: 'maxAttempts', min: 1, max: 100 },
] as const;

describe('job options (manager/jobs/options)', () => {
  describe('optionSource', () => {
    it('when an option is only in the query or only in its X-Job header, then that value is read', () => {
      const asked: string[] = [];
      const headers: Record<string, string> = { 'X-Job-mean-ms': '250' };
      const source = optionSource({ ttr: '30' }, (name) => {
        asked.push(name);
        return headers[name] ?? '';
      });

      assert.equal(source('ttr'), '30');
      assert.equal(source('mean_ms'), '250');
      assert.equal(source('delay'), undefined);
      assert.deepEqual(asked, ['X-Job-ttr', 'X-Job-mean-ms', 'X-Job-delay'], 'underscores become dashes');
    });

    it('when the query and the header give the same value, then it is read; different values are INVALID_OPTION', () => {
      const source = optionSource({ ttr: '30', delay: '5' }, (name) =>
        name === 'X-Job-ttr' ? '30' : name === 'X-Job-delay' ? '6' : '',
      );

      assert.equal(source('ttr'), '30');
      assert.throws(
        () => source('delay'),
        refused(
          ErrorCode.INVALID_OPTION,
          /^delay is given as a query parameter and as X-Job-delay with different values$/,
        ),
      );
    });

    it('when an empty header is sent, then the option is absent; an empty query value is kept', () => {
      assert.equal(optionSource({}, () => '')('ttr'), undefined);
      assert.equal(optionSource({ ttr: '' }, () => '')('ttr'), '');
    });

    it('when a query parameter is repeated, then it is INVALID_OPTION naming it', () => {
      const source = optionSource({ priority: ['1', '2'] }, () => '');

      assert.throws(
        () => source('priority'),
        refused(ErrorCode.INVALID_OPTION, /^priority is given more than once$/),
      );
    });
  });

  describe('parseJobOptions', () => {
    it('when no option is given, then the job is a hash job with the defaults and no parameters', () => {
      const job = parseJobOptions(given({}), DEFAULTS, []);

      assert.deepEqual(job, {
        type: 'hash',
        options: { priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 },
        params: {},
      });
    });

    it('when each numeric option is at its bounds, then it is taken; one past them is INVALID_OPTION', () => {
      for (const { name, key, min, max } of NUMERIC) {
        assert.equal(parseJobOptions(given({ [name]: String(min) }), DEFAULTS, []).options[key], min, name);
        assert.equal(parseJobOptions(given({ [name]: String(max) }), DEFAULTS, []).options[key], max, name);
        const message = new RegExp(`^${name} must be an integer from ${min} to ${max}$`);
        assert.throws(
          () => parseJobOptions(given({ [name]: String(max + 1) }), DEFAULTS, []),
          refused(ErrorCode.INVALID_OPTION, message),
        );
        if (min > 0) {
          assert.throws(
            () => parseJobOptions(given({ [name]: String(min - 1) }), DEFAULTS, []),
            refused(ErrorCode.INVALID_OPTION, message),
          );
        }
      }
    });

    it('when a numeric option is not a plain decimal integer, then it is INVALID_OPTION', () => {
      for (const { name } of NUMERIC) {
        for (const text of ['', '-1', '+1', '1.5', '1e2', ' 5', '5 ', 'ten', '0x10', '12345678901']) {
          assert.throws(
            () => parseJobOptions(given({ [name]: text }), DEFAULTS, []),
            refused(ErrorCode.INVALID_OPTION, new RegExp(`^${name} must be an integer`)),
            `${name}=${JSON.stringify(text)}`,
          );
        }
      }
    });

    it('when any integer is sent for a numeric option, then it is taken exactly when within bounds', () => {
      fc.assert(
        fc.property(fc.constantFrom(...NUMERIC), fc.integer({ min: 0, max: 2 ** 33 }), (option, value) => {
          const parse = () => parseJobOptions(given({ [option.name]: String(value) }), DEFAULTS, []);
          if (value >= option.min && value <= option.max) {
            assert.equal(parse().options[option.key], value);
          } else {
            assert.throws(parse, refused(ErrorCode.INVALID_OPTION, /must be an integer/));
          }
        }),
      );
    });

    it('when no JOB_TYPES list is given, then the built-in types are accepted and any other is UNKNOWN_JOB_TYPE', () => {
      assert.deepEqual([...DEFAULT_ACCEPTED_TYPES], ['hash', 'simulate', 'metrics', 'summary']);
      for (const type of DEFAULT_ACCEPTED_TYPES)
        assert.equal(parseJobOptions(given({ type }), DEFAULTS, []).type, type);

      assert.throws(
        () => parseJobOptions(given({ type: 'video' }), DEFAULTS, []),
        refused(
          ErrorCode.UNKNOWN_JOB_TYPE,
          /^unknown type video; this manager accepts hash, simulate, metrics, summary \(JOB_TYPES\)$/,
        ),
      );
    });

    it('when a JOB_TYPES list is given, then it replaces the built-in types', () => {
      assert.equal(parseJobOptions(given({ type: 'video' }), DEFAULTS, ['video']).type, 'video');
      assert.throws(
        () => parseJobOptions(given({}), DEFAULTS, ['video']),
        refused(ErrorCode.UNKNOWN_JOB_TYPE, /^unknown type hash; this manager accepts video/),
        'the default type is refused too when it is not listed',
      );
    });

    it('when a type is not a valid name, then it is INVALID_OPTION even if the list names it', () => {
      for (const type of ['Video', '1video', 'vi deo', '', `v${'x'.repeat(63)}`]) {
        assert.throws(
          () => parseJobOptions(given({ type }), DEFAULTS, [type]),
          refused(ErrorCode.INVALID_OPTION, /^type must be lower-case letters/),
          JSON.stringify(type),
        );
      }
    });

    it('when a hash job names an algorithm and an encoding, then they become its parameters', () => {
      const job = parseJobOptions(given({ algorithm: 'sha256', encoding: 'raw' }), DEFAULTS, []);

      assert.deepEqual(job.params, { algorithm: 'sha256', encoding: 'raw' });
    });

    it('when a hash parameter has an unknown value or the job is not a hash job, then it is INVALID_OPTION', () => {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ algorithm: 'crc32' }, /^algorithm must be one of md5, sha1, sha256$/],
        [{ algorithm: 'MD5' }, /^algorithm must be one of/],
        [{ encoding: 'base64' }, /^encoding must be one of json, raw /],
        [{ type: 'simulate', algorithm: 'md5' }, /^algorithm applies to type hash only$/],
        [{ type: 'simulate', encoding: 'raw' }, /^encoding applies to type hash only$/],
      ];
      for (const [values, message] of cases) {
        assert.throws(
          () => parseJobOptions(given(values), DEFAULTS, []),
          refused(ErrorCode.INVALID_OPTION, message),
          JSON.stringify(values),
        );
      }
    });

    it('when a simulate job names mean_ms and fail_rate within bounds, then they become numeric parameters', () => {
      const job = parseJobOptions(
        given({ type: 'simulate', mean_ms: '3600000', fail_rate: '0.125' }),
        DEFAULTS,
        [],
      );

      assert.deepEqual(job.params, { mean_ms: 3_600_000, fail_rate: 0.125 });
      for (const [text, rate] of [
        ['0', 0],
        ['1', 1],
        ['1.000000', 1],
        ['0.000001', 0.000001],
      ] as const) {
        assert.equal(
          parseJobOptions(given({ type: 'simulate', fail_rate: text }), DEFAULTS, []).params.fail_rate,
          rate,
          text,
        );
      }
      assert.equal(
        parseJobOptions(given({ type: 'simulate', mean_ms: '0' }), DEFAULTS, []).params.mean_ms,
        0,
      );
    });

    it('when a simulate parameter is out of bounds or the job is not a simulate job, then it is INVALID_OPTION', () => {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ type: 'simulate', mean_ms: '3600001' }, /^mean_ms must be an integer from 0 to 3600000$/],
        [{ type: 'simulate', mean_ms: '-1' }, /^mean_ms must be an integer/],
        [{ mean_ms: '10' }, /^mean_ms and fail_rate apply to type simulate only$/],
        [{ fail_rate: '0.5' }, /^mean_ms and fail_rate apply to type simulate only$/],
      ];
      for (const rate of ['1.1', '2', '-0.1', '.5', '0.', '0.1234567', '1.0000001', 'NaN', '1e-1', '']) {
        cases.push([{ type: 'simulate', fail_rate: rate }, /^fail_rate must be a number from 0 to 1$/]);
      }
      for (const [values, message] of cases) {
        assert.throws(
          () => parseJobOptions(given(values), DEFAULTS, []),
          refused(ErrorCode.INVALID_OPTION, message),
          JSON.stringify(values),
        );
      }
    });
  });

  describe('checkIdempotencyKey', () => {
    it('when no key is sent, then there is none', () => {
      assert.equal(checkIdempotencyKey(undefined), undefined);
      assert.equal(checkIdempotencyKey(''), undefined);
    });

    it('when a key is 1 to 255 visible ASCII characters, then it is the key', () => {
      assert.equal(checkIdempotencyKey('a'), 'a');
      assert.equal(checkIdempotencyKey('~'.repeat(255)), '~'.repeat(255));
      assert.equal(checkIdempotencyKey('order-42:retry!'), 'order-42:retry!');
    });

    it('when a key is too long, holds a space, a control or a non-ASCII character, or is not a string, then it is INVALID_IDEMPOTENCY_KEY', () => {
      for (const key of ['x'.repeat(256), 'a b', 'a\tb', 'caf\u00e9', '\u007f', ['a'], 42]) {
        assert.throws(
          () => checkIdempotencyKey(key),
          refused(
            ErrorCode.INVALID_IDEMPOTENCY_KEY,
            /^an Idempotency-Key is 1-255 visible ASCII characters$/,
          ),
          JSON.stringify(key),
        );
      }
    });
  });
});
