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
      batchSize: 2,
      limit: 1,
      singleBatch: true,
    });
  });

  it('when reads are asked in one turn, then one $in find asks for each id once, and every caller gets its document or null', async () => {
    const { db, commands } = scriptedDb([
      {
        ok: 1,
        cursor: {
          id: 0,
          firstBatch: [
            { _id: 'b', n: 2 },
            { _id: 'a', n: 1 },
          ],
        },
      },
    ]);
    const read = pointReader<{ _id: string; n: number }>(db, 'results');
    const answers = await Promise.all([read('a'), read('b'), read('c'), read('a')]);
    assert.deepEqual(answers, [{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }, null, { _id: 'a', n: 1 }]);
    assert.deepEqual(commands, [
      { find: 'results', filter: { _id: { $in: ['a', 'b', 'c'] } }, batchSize: 4 },
    ]);
  });

  it('when more ids are asked than one read names, then they go out in several reads', async () => {
    const { db, commands } = scriptedDb([
      { ok: 1, cursor: { id: 0, firstBatch: [{ _id: 'a' }, { _id: 'b' }] } },
      { ok: 1, cursor: { id: 0, firstBatch: [{ _id: 'c' }] } },
      found({ _id: 'e' }),
    ]);
    const read = pointReader(db, 'jobs', { idsPerRead: 2 });
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(read));
    assert.deepEqual(answers, [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }, null, { _id: 'e' }]);
    assert.deepEqual(
      commands.map((command) => (command as { filter: unknown }).filter),
      [{ _id: { $in: ['a', 'b'] } }, { _id: { $in: ['c', 'd'] } }, { _id: 'e' }],
    );
  });

  it('when a read of several fails, then every caller of it gets the error, and the next reads go on', async () => {
    const { db } = scriptedDb([
      new MongoServerError({ code: 2, errmsg: 'bad value' }),
      { ok: 1, cursor: { id: 0, firstBatch: [{ _id: 'a' }] } },
    ]);
    const read = pointReader(db, 'results');
    const failed = await Promise.allSettled([read('a'), read('b')]);
    assert.deepEqual(
      failed.map((one) => one.status === 'rejected' && /bad value/.test(String(one.reason))),
      [true, true],
    );
    assert.deepEqual(await Promise.all([read('a'), read('b')]), [{ _id: 'a' }, null]);
  });

  it('when the server cuts the batch by size (its cursor left open), then the cursor is killed and the rest read one at a time', async () => {
    const { db, commands } = scriptedDb([
      { ok: 1, cursor: { id: 77, firstBatch: [{ _id: 'a' }] } },
      { ok: 1 },
      found({ _id: 'b' }),
      found(undefined),
    ]);
    const answers = await Promise.all(['a', 'b', 'c'].map(pointReader(db, 'results')));
    assert.deepEqual(answers, [{ _id: 'a' }, { _id: 'b' }, null]);
    assert.deepEqual(commands.slice(1), [
      { killCursors: 'results', cursors: [77] },
      { find: 'results', filter: { _id: 'b' }, batchSize: 2, limit: 1, singleBatch: true },
      { find: 'results', filter: { _id: 'c' }, batchSize: 2, limit: 1, singleBatch: true },
    ]);
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
