/**
 * The MongoDB-wire server killed while it creates collections. Every collection the system
 * uses is made on its first write, so a crash of the store can land inside a creation. On
 * FerretDB 1.24.2 a creation is four SQLite statements, each its own transaction: killed
 * after the first, it left a table with no metadata row, and every later write to that
 * collection failed with "table … already exists" (a CI run of the fault suite, 2026-12-03);
 * killed after the second, a collection with no unique `_id` index. Our build makes the
 * creation one transaction (scripts/ferretdb/atomic-collection-create.patch).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, MongoError } from 'mongodb';
import {
  ferretdbBinary,
  freePort,
  type LocalServer,
  startMongoServer,
  whichSync,
} from '../../src/local/servers.js';
import { waitFor } from '../support/harness.js';

const ROUNDS = 4;
/** Creations in flight at once: the server is inside one whenever the kill lands. */
const LANES = 4;

describe('the MongoDB-wire server killed while it creates collections', function () {
  this.timeout(120_000);
  let dataDir: string;
  let server: (LocalServer & { url: string }) | undefined;

  before(function () {
    // Needs a server of our own to kill: mongod, or our FerretDB build (not a MONGO_URL's).
    if (!whichSync('mongod') && !existsSync(ferretdbBinary())) this.skip();
    dataDir = mkdtempSync(join(tmpdir(), 'dw-crash-'));
  });

  after(async () => {
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('when it is SIGKILLed mid-creation and restarted, then every collection takes writes and keeps _id unique', async () => {
    const port = await freePort();
    const start = () => startMongoServer({ port, dataDir: join(dataDir, 'mongo') });
    const attempted: string[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      server = await start();
      const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 2000, retryWrites: false });
      const db = client.db('crash');
      let created = 0;
      let stopping = false;
      const lane = async () => {
        while (!stopping) {
          const name = `c${round}_${attempted.length}`;
          attempted.push(name);
          try {
            await db.collection<{ _id: string }>(name).insertOne({ _id: 'seed' });
            created += 1;
          } catch {
            return; // the kill
          }
        }
      };
      const lanes = Array.from({ length: LANES }, lane);
      // Killed once creations flow, a different number into each round.
      await waitFor('collections being created', () => created >= 5 + round * 7, 20_000, 5);
      await server.kill();
      stopping = true;
      await Promise.all(lanes);
      await client.close(true);
    }

    server = await start();
    const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 2000, retryWrites: false });
    try {
      const db = client.db('crash');
      const broken: string[] = [];
      for (const name of attempted) {
        const collection = db.collection<{ _id: string }>(name);
        try {
          await collection.insertOne({ _id: 'probe' });
        } catch (error: unknown) {
          broken.push(`${name}: first write failed: ${String(error)}`);
          continue;
        }
        const second = await collection.insertOne({ _id: 'probe' }).then(
          () => 'a second document with the same _id',
          (error: unknown) => (error instanceof MongoError && error.code === 11000 ? '' : String(error)),
        );
        if (second) broken.push(`${name}: ${second}`);
      }
      assert.deepEqual(broken, [], `${broken.length} of ${attempted.length} collections broken`);
    } finally {
      await client.close();
    }
  });
});
