import assert from 'node:assert/strict';
import { type Db, MongoClient, MongoNetworkError, MongoServerError, type ReadPreference } from 'mongodb';
import { pointReader } from '../../../src/store/driver/point-reads.js';

/** A Db whose `command` answers from `answers` in turn: an Error is thrown, anything else returned. */
function scriptedDb(answers: unknown[]): { db: Db; commands: unknown[] } {
  const commands: unknown[] = [];
  const db = {
    client: { options: {} },
    command: async (command: unknown) => {
      commands.push(command);
      const next = answers.shift();
      if (next instanceof Error) throw next;
      return next;
    },
  } as unknown as Db;
  return { db, commands };
}

const found = (doc: unknown) => ({ ok: 1, cursor: { id: 0, ns: 'd.results', firstBatch: doc ? [doc] : [] } });

describe('point reads (store/driver/point-reads)', () => {
  it('when a document is read by id, then one find command of limit 1 asks for it, and none found is null', async () => {
    const { db, commands } = scriptedDb([found({ _id: 'a', n: 1 }), found(undefined)]);
    const read = pointReader<{ _id: string; n: number }>(db, 'results');
    assert.deepEqual(await read('a'), { _id: 'a', n: 1 });
    assert.equal(await read('b'), null);
    assert.deepEqual(commands[0], {
      find: 'results',
      filter: { _id: 'a' },
      limit: 1,
      batchSize: 1,
      singleBatch: true,
    });
  });

  it('when the network fails once, then the read is tried again and answers, as the driver retries a read', async () => {
    const { db, commands } = scriptedDb([new MongoNetworkError('reset'), found({ _id: 'a' })]);
    assert.deepEqual(await pointReader(db, 'jobs')('a'), { _id: 'a' });
    assert.equal(commands.length, 2);
  });

  it('when it fails twice, or the server refuses for a reason of its own, then the error reaches the caller after at most one retry', async () => {
    const twice = scriptedDb([new MongoNetworkError('reset'), new MongoNetworkError('reset again')]);
    await assert.rejects(pointReader(twice.db, 'jobs')('a'), /reset again/);
    assert.equal(twice.commands.length, 2);
    const refused = scriptedDb([new MongoServerError({ code: 2, errmsg: 'bad value' }), found({ _id: 'a' })]);
    await assert.rejects(pointReader(refused.db, 'jobs')('a'), /bad value/);
    assert.equal(refused.commands.length, 1, 'not retried');
    const steppedDown = scriptedDb([
      new MongoServerError({ code: 10107, errmsg: 'not primary' }),
      found({ _id: 'a' }),
    ]);
    assert.deepEqual(await pointReader(steppedDown.db, 'jobs')('a'), { _id: 'a' });
  });
  it('when the URL names a read preference and a read concern, then the read carries both, as findOne would; by default neither is added', async () => {
    const asked = async (url: string) => {
      // A client is not connected until used: only its Db's settings are read here.
      const db = new MongoClient(url).db('d');
      const seen: { command: Record<string, unknown>; options: { readPreference?: ReadPreference } }[] = [];
      db.command = (async (
        command: Record<string, unknown>,
        options: { readPreference?: ReadPreference },
      ) => {
        seen.push({ command, options });
        return found({ _id: 'a' });
      }) as Db['command'];
      await pointReader(db, 'results')('a');
      return seen[0];
    };
    const tuned = await asked(
      'mongodb://127.0.0.1:1/?readConcernLevel=majority&readPreference=secondaryPreferred',
    );
    assert.deepEqual(tuned?.command.readConcern, { level: 'majority' });
    assert.equal(tuned?.options.readPreference?.mode, 'secondaryPreferred');
    const plain = await asked('mongodb://127.0.0.1:1/');
    assert.equal('readConcern' in (plain?.command ?? {}), false);
    assert.equal(plain?.options.readPreference?.mode, 'primary');
  });
  it('when the URL turns read retries off, then a failed read is not tried again', async () => {
    const db = new MongoClient('mongodb://127.0.0.1:1/?retryReads=false').db('d');
    let calls = 0;
    db.command = (async () => {
      calls += 1;
      throw new MongoNetworkError('reset');
    }) as Db['command'];
    await assert.rejects(pointReader(db, 'jobs')('a'), /reset/);
    assert.equal(calls, 1);
  });
});
