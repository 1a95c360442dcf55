import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { normaliseQueueError, QueueErrorCode } from '../../../src/queue/errors.js';
import { parseJobStats, readJobStats } from '../../../src/queue/job-stats.js';
import { parsePlainMapping, parseServerStats, parseTubeList } from '../../../src/queue/stats.js';
import { assertBeanstalkId, assertTubeName, isBeanstalkId } from '../../../src/queue/validate.js';

class InvalidResponseError extends Error {}

describe('queue adapter: error normalisation, stats parsing, validation', () => {
  it('when jackd rejects delete with Error("NOT_FOUND"), then the code is NOT_FOUND', () => {
    assert.equal(normaliseQueueError(new Error('NOT_FOUND'), 'delete').code, QueueErrorCode.NOT_FOUND);
  });

  it('when jackd rejects stats-job with "Unexpected response: NOT_FOUND", then the code is NOT_FOUND', () => {
    const error = new InvalidResponseError('Unexpected response: NOT_FOUND');
    assert.equal(normaliseQueueError(error, 'stats-job').code, QueueErrorCode.NOT_FOUND);
  });

  it('when put answers BURIED (server out of memory), then it is an error that names the buried job', () => {
    const error = normaliseQueueError(new Error('BURIED 42'), 'put');
    assert.equal(error.code, QueueErrorCode.PUT_BURIED);
    assert.equal(error.jobId, '42');
  });

  it('when the socket fails, then the code is UNAVAILABLE with the errno', () => {
    const error = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    const normalised = normaliseQueueError(error, 'put');
    assert.equal(normalised.code, QueueErrorCode.UNAVAILABLE);
    assert.match(normalised.message, /EPIPE/);
  });

  it('when the server answers a protocol error, then the code is SERVER_ERROR', () => {
    for (const reply of [
      'OUT_OF_MEMORY',
      'INTERNAL_ERROR',
      'BAD_FORMAT',
      'UNKNOWN_COMMAND',
      'Unexpected response: WHAT',
    ]) {
      assert.equal(normaliseQueueError(new Error(reply), 'x').code, QueueErrorCode.SERVER_ERROR, reply);
    }
    assert.equal(normaliseQueueError(new Error('JOB_TOO_BIG'), 'put').code, QueueErrorCode.JOB_TOO_BIG);
    assert.equal(normaliseQueueError(new Error('TIMED_OUT'), 'reserve').code, QueueErrorCode.TIMED_OUT);
  });

  it('when stats-job YAML comes back, then its kebab-case keys become typed camelCase numbers', () => {
    const yaml =
      '---\nid: 7\ntube: "hash"\nstate: reserved\npri: 1024\nage: 3\ndelay: 0\nttr: 60\ntime-left: 57\nfile: 0\nreserves: 2\ntimeouts: 1\nreleases: 0\nburies: 0\nkicks: 0\n';
    const stats = parseJobStats(yaml);
    assert.deepEqual(stats, {
      id: '7',
      tube: 'hash',
      state: 'reserved',
      priority: 1024,
      age: 3,
      delay: 0,
      ttr: 60,
      timeLeft: 57,
      file: 0,
      reserves: 2,
      timeouts: 1,
      releases: 0,
      buries: 0,
      kicks: 0,
    });
  });

  it('when stats-job answers as beanstalkd 1.12 does, then the field-by-field reader agrees with the YAML parser', () => {
    const answer = (tube: string, state: string, timeLeft: string) =>
      `---\nid: 12\ntube: ${tube}\nstate: ${state}\npri: 1024\nage: 3\ndelay: 0\nttr: 60\ntime-left: ${timeLeft}\nfile: 0\nreserves: 2\ntimeouts: 1\nreleases: 4\nburies: 5\nkicks: 6\n`;
    const viaYaml = (text: string) => {
      const m = parseYaml(text) as Record<string, number | string>;
      return {
        id: String(m.id),
        tube: String(m.tube),
        state: m.state,
        priority: m.pri,
        age: m.age,
        delay: m.delay,
        ttr: m.ttr,
        timeLeft: m['time-left'],
        file: m.file,
        reserves: m.reserves,
        timeouts: m.timeouts,
        releases: m.releases,
        buries: m.buries,
        kicks: m.kicks,
      };
    };
    for (const text of [
      answer('dw.hash', 'reserved', '57'),
      answer('default', 'ready', '0'),
      // A job held past its TTR (FACTS: beanstalkd may report a negative time-left).
      answer('t_1-x/y+z', 'buried', '-3'),
      answer('dw.hash', 'delayed', '120').replaceAll('\n', '\r\n'),
    ]) {
      assert.ok(readJobStats(text), text);
      assert.deepEqual(parseJobStats(text), viaYaml(text), text);
    }
  });

  it('when stats-job holds a quoted, odd, repeated or missing field, then the YAML parser decides', () => {
    const good =
      '---\nid: 7\ntube: dw.hash\nstate: ready\npri: 0\nage: 0\ndelay: 0\nttr: 60\ntime-left: 0\nfile: 0\nreserves: 0\ntimeouts: 0\nreleases: 0\nburies: 0\nkicks: 0\n';
    assert.ok(readJobStats(good));
    for (const [from, to] of [
      ['tube: dw.hash', 'tube: "dw.hash"'],
      ['tube: dw.hash', 'tube: a(b)'],
      ['tube: dw.hash', 'tube: null'],
      ['state: ready', 'state: gone'],
      ['kicks: 0\n', 'kicks: 0\nkicks: 1\n'],
      ['kicks: 0\n', ''],
      ['kicks: 0\n', 'kicks: 0\nextra: 1\n'],
      ['id: 7', 'id: 12345678901234567'],
      ['ttr: 60', 'ttr: 6e1'],
    ]) {
      assert.equal(readJobStats(good.replace(from ?? '', to ?? '')), undefined, to);
    }
    assert.equal(parseJobStats(good.replace('tube: dw.hash', 'tube: a(b)')).tube, 'a(b)');
    assert.throws(() => parseJobStats(good.replace('state: ready', 'state: gone')), /unknown state/);
    assert.throws(() => parseJobStats(good.replace('kicks: 0\n', '')), /field kicks is not a number/);
  });

  it('when a stats answer is plain key: value lines, then the fast reader agrees with the YAML parser', () => {
    // Answers captured from beanstalkd 1.12 (stats-job, stats-tube), plus edge values.
    const answers = [
      '---\nid: 1\ntube: my-tube\nstate: ready\npri: 0\nage: 0\ndelay: 0\nttr: 60\ntime-left: 0\nfile: 0\nreserves: 0\ntimeouts: 0\nreleases: 0\nburies: 0\nkicks: 0\n',
      '---\nname: my-tube\ncurrent-jobs-urgent: 1\ncurrent-jobs-ready: 1\ncurrent-jobs-reserved: 0\ncurrent-jobs-delayed: 0\ncurrent-jobs-buried: 0\ntotal-jobs: 1\ncurrent-using: 1\ncurrent-watching: 0\ncurrent-waiting: 0\ncmd-delete: 0\ncmd-pause-tube: 0\npause: 0\npause-time-left: 0\n',
      '---\ntime-left: -3\nrusage-utime: 0.123456\nos: Linux/6.1\nhostname: box-1.example\n',
    ];
    for (const answer of answers) assert.deepEqual(parsePlainMapping(answer), parseYaml(answer));
  });

  it('when a stats answer has a quoted, boolean-like or odd value, then it goes to the YAML parser', () => {
    for (const answer of [
      '---\nversion: "1.12"\n',
      '---\ndraining: false\n',
      '---\nname: a(b)\n',
      '---\nid: 1\n- list item\n',
      '---\n',
    ]) {
      assert.equal(parsePlainMapping(answer), undefined, answer);
    }
    const server = parseServerStats(
      '---\ncurrent-jobs-ready: 1\ncurrent-jobs-reserved: 0\ncurrent-jobs-delayed: 0\ncurrent-jobs-buried: 0\ncurrent-connections: 2\nmax-job-size: 10\nversion: "1.12"\npid: 10\nuptime: 5\n',
    );
    assert.equal(server.version, '1.12');
    assert.equal(server.maxJobSize, 10);
  });

  it('when list-tubes answers plain names, then each comes back as beanstalkd wrote it', () => {
    // As beanstalkd 1.12 writes it; the YAML parser agrees on ordinary names...
    const answer = '---\n- default\n- dw_hash\n- dw_tokens.run.a(b)\n';
    assert.deepEqual(parseTubeList(answer), ['default', 'dw_hash', 'dw_tokens.run.a(b)']);
    assert.deepEqual(parseTubeList(answer), parseYaml(answer));
    assert.deepEqual(parseTubeList(answer.replaceAll('\n', '\r\n')), parseTubeList(answer));
    // ...but reads these as numbers or null: the names stay names.
    assert.deepEqual(parseTubeList('---\n- 1.0\n- 0x10\n- null\n- 1e3\n'), ['1.0', '0x10', 'null', '1e3']);
  });

  it('when a list-tubes line is not a plain tube name, then the YAML parser decides', () => {
    assert.deepEqual(parseTubeList('---\n- default\n- "quoted"\n'), ['default', 'quoted']);
    assert.deepEqual(parseTubeList('---\n-  spaced\n'), ['spaced']);
    assert.throws(() => parseTubeList('---\nname: default\n'), /expected a sequence/);
    assert.throws(() => parseTubeList('---\n'), /expected a sequence/);
  });

  it('when server stats come back, then max-job-size is a number', () => {
    const yaml =
      '---\ncurrent-jobs-ready: 1\ncurrent-jobs-reserved: 0\ncurrent-jobs-delayed: 0\ncurrent-jobs-buried: 0\ncurrent-connections: 2\nmax-job-size: 65535\nversion: "1.12"\npid: 10\nuptime: 5\n';
    const stats = parseServerStats(yaml);
    assert.equal(stats.maxJobSize, 65535);
    assert.equal(stats.version, '1.12');
  });

  it('when an id carries CR/LF or anything but digits, then it is refused before any protocol line', () => {
    assert.equal(assertBeanstalkId('123'), '123');
    for (const bad of ['2\r\ndelete 1', '', '-1', '1 2', '１２', '123456789012345678901', '1e3']) {
      assert.equal(isBeanstalkId(bad), false, JSON.stringify(bad));
      assert.throws(() => assertBeanstalkId(bad), { code: QueueErrorCode.INVALID_ARGUMENT });
    }
    assert.throws(() => assertTubeName('a b'), { code: QueueErrorCode.INVALID_ARGUMENT });
    assert.throws(() => assertTubeName('hash\r\nkick 100'), { code: QueueErrorCode.INVALID_ARGUMENT });
    assert.throws(() => assertTubeName('-x'), { code: QueueErrorCode.INVALID_ARGUMENT });
  });
});
