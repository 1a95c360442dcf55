/**
 * A FerretDB of a test file's own, on a data directory of its own, for tests that read the
 * server's files (its write-ahead log) and so cannot share the suite's server. Skips the file's
 * tests where there is no such server to start: under mongod, or without our FerretDB build.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, MongoClient, type MongoClientOptions } from 'mongodb';
import { ferretdbBinary, type LocalServer, startMongoServer, whichSync } from '../../src/local/servers.js';

export interface OwnFerretdb {
  /** The database `name` on the server. */
  db(name: string): Db;
  /** The server's data directory: its SQLite files, one per database. */
  dataDir(): string;
}

/** Starts the server before the enclosing `describe`'s tests and stops it after them. */
export function ownFerretdb(prefix: string, clientOptions: MongoClientOptions = {}): OwnFerretdb {
  let dataDir: string | undefined;
  let server: (LocalServer & { url: string }) | undefined;
  let client: MongoClient | undefined;

  before(async function () {
    if (whichSync('mongod') || !existsSync(ferretdbBinary())) this.skip();
    dataDir = mkdtempSync(join(tmpdir(), prefix));
    server = await startMongoServer({ dataDir });
    client = await MongoClient.connect(server.url, { serverSelectionTimeoutMS: 5000, ...clientOptions });
  });

  after(async () => {
    await client?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  return {
    db: (name) => (client as MongoClient).db(name),
    dataDir: () => dataDir as string,
  };
}
