import assert from 'node:assert/strict';
import { type Db, MongoNetworkError, MongoServerError } from 'mongodb';
import { pointReader } from '../../../src/store/driver/point-reads.js';

/** A Db whose `command` answers from `answers` in turn: an Error is thrown, anything else returned. */
function scriptedDb(answers: unknown[]): { db: Db; commands: unknown[] } {
  const commands: unknown[] = [];
  const db = {
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
});
