import assert from 'node:assert/strict';
import { ferretdbArgs, ferretdbEnv } from '../../../src/local/servers.js';
import { MAX_INSERT_BATCH } from '../../../src/store/index.js';

/** The value of `--name=value` in args, or undefined. */
function flag(args: string[], name: string): string | undefined {
  return args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** The `_pragma` values of the SQLite URL, in order. */
function pragmas(args: string[]): string[] {
  const url = new URL(flag(args, 'sqlite-url') ?? '');
  return url.searchParams.getAll('_pragma');
}

describe('FerretDB command line', () => {
  it('when the store inserts its largest batch, then FerretDB takes it in one transaction', () => {
    assert.equal(flag(ferretdbArgs('/tmp/d', 27017), 'test-batch-size'), String(MAX_INSERT_BATCH));
  });

  it('when SQLite needs a statement journal, then it is kept in memory', () => {
    assert.deepEqual(pragmas(ferretdbArgs('/tmp/d', 27017)), ['temp_store(memory)']);
  });

  it('when the sync is normal, then both pragmas go in the one query string', () => {
    const args = ferretdbArgs('/tmp/d', 27017, 'normal');
    assert.deepEqual(pragmas(args), ['temp_store(memory)', 'synchronous(normal)']);
    assert.equal(new URL(flag(args, 'sqlite-url') ?? '').pathname, '/tmp/d/');
  });

  it('when started, then it listens on the port and keeps its state in the data dir', () => {
    const args = ferretdbArgs('/tmp/d', 27123);
    assert.equal(flag(args, 'listen-addr'), '127.0.0.1:27123');
    assert.equal(flag(args, 'state-dir'), '/tmp/d');
  });

  it('when FerretDB starts, then Go collects at 400 % heap growth, unless our environment says otherwise', () => {
    assert.equal(ferretdbEnv({ PATH: '/bin' }).GOGC, '400');
    assert.equal(ferretdbEnv({ PATH: '/bin' }).PATH, '/bin');
    assert.equal(ferretdbEnv({ GOGC: '150' }).GOGC, '150');
  });
});
