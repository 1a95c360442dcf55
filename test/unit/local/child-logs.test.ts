import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { formatLogLine, pipePrefixed } from '../../../src/local/child-logs.js';

describe('the local stack log view (child-logs)', () => {
  it('when a pino line arrives, then it shows time, level, message and the scope fields, not the noise', () => {
    const line = JSON.stringify({
      level: 40,
      time: '2026-11-23T13:15:14.210Z',
      pid: 42,
      role: 'worker',
      worker: 'worker-1',
      slot: 2,
      error: 'connect ECONNREFUSED',
      msg: 'beanstalkd unavailable; retrying with backoff',
    });
    assert.equal(
      formatLogLine(line),
      '13:15:14.210 WARN  beanstalkd unavailable; retrying with backoff slot=2 error="connect ECONNREFUSED"',
    );
  });

  it('when an error object is logged, then its message is shown, not its stack', () => {
    const line = JSON.stringify({
      level: 50,
      time: 0,
      msg: 'unexpected error',
      err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' },
    });
    assert.equal(formatLogLine(line), '00:00:00.000 ERROR unexpected error err="boom"');
  });

  it('when a line is not JSON, then it passes through unchanged', () => {
    assert.equal(formatLogLine('SIGTERM again: exiting now'), 'SIGTERM again: exiting now');
    assert.equal(formatLogLine('{not json'), '{not json');
  });

  it('when chunks split lines, then each whole line is written once with its prefix', () => {
    const stream = new PassThrough();
    const written: string[] = [];
    pipePrefixed(stream, 'manager', (text) => written.push(text));
    stream.write('first li');
    stream.write('ne\nsecond line\n\nthi');
    stream.end('rd');
    return new Promise<void>((resolve) =>
      stream.once('end', () => {
        assert.deepEqual(written, ['[manager] first line\n', '[manager] second line\n', '[manager] third\n']);
        resolve();
      }),
    );
  });
});
