/** The logger's one error key (`err`): what it keeps and what it never writes. */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { lazyChild, serializeError } from '../../src/log.js';

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

describe("a job's logger made on first use (unit)", () => {
  function capture(level: 'info' | 'warn') {
    const lines: Record<string, unknown>[] = [];
    const parent = pino(
      { level, base: null, timestamp: false },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    let children = 0;
    // Counted on whichever logger it is called (a child inherits the parent's own property).
    const original = parent.child;
    parent.child = function (this: typeof parent, ...args: Parameters<typeof parent.child>) {
      children += 1;
      return original.apply(this, args);
    } as typeof parent.child;
    return { parent, lines, children: () => children };
  }

  it('when a line is logged, then it carries the bindings, and the child is made once', () => {
    const { parent, lines, children } = capture('info');
    const log = lazyChild(parent, { jobId: 'j1', type: 'hash' });
    log.info({ attempt: 2 }, 'first');
    log.warn('second');
    assert.deepEqual(
      lines.map(({ jobId, type, msg }) => ({ jobId, type, msg })),
      [
        { jobId: 'j1', type: 'hash', msg: 'first' },
        { jobId: 'j1', type: 'hash', msg: 'second' },
      ],
    );
    assert.equal(lines[0]?.attempt, 2);
    assert.equal(children(), 1);
  });

  it('when nothing is logged, or only below the level, then no child is made', () => {
    const { parent, lines, children } = capture('warn');
    const log = lazyChild(parent, { jobId: 'j2' });
    log.info('dropped');
    log.debug({ x: 1 }, 'dropped too');
    assert.equal(children(), 0);
    assert.equal(lines.length, 0);
    assert.equal(log.isLevelEnabled('warn'), true);
    assert.equal(children(), 1);
  });

  it('when a grandchild is made, then it keeps both sets of bindings', () => {
    const { parent, lines } = capture('info');
    lazyChild(parent, { jobId: 'j3' }).child({ step: 'upload' }).info('done');
    assert.equal(lines[0]?.jobId, 'j3');
    assert.equal(lines[0]?.step, 'upload');
  });
});
