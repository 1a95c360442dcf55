import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createBackendNotes } from '../../../src/worker/backend-notes.js';

describe("a worker's log lines for its backends (worker/backend-notes)", () => {
  const capture = () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    return { notes: createBackendNotes(log), lines };
  };

  it('when beanstalkd fails for many slots and then answers, then one warning and one recovery line are logged', () => {
    const { notes, lines } = capture();
    notes.queue(false);
    for (let i = 0; i < 5; i++) notes.queue(true, new Error('ECONNREFUSED'));
    notes.queue(false);
    notes.queue(false);
    assert.deepEqual(
      lines.map((line) => line.msg),
      ['beanstalkd unavailable; retrying with backoff', 'beanstalkd reachable again'],
    );
    assert.equal(lines[0]?.level, 40, 'the outage is a warning');
  });

  it('when MongoDB refuses writes and then takes one, then one warning and one recovery line are logged, apart from beanstalkd', () => {
    const { notes, lines } = capture();
    notes.store(true);
    notes.store(false, new Error('down'));
    notes.store(false, new Error('down'));
    notes.queue(true, new Error('down too'));
    notes.store(true);
    assert.deepEqual(
      lines.map((line) => line.msg),
      [
        'MongoDB unavailable; outcomes wait in beanstalkd',
        'beanstalkd unavailable; retrying with backoff',
        'MongoDB reachable again',
      ],
    );
  });
});
