/**
 * The driver's options the store starts with, read back from the driver itself (no server):
 * writes wait for the journal unless the URL says otherwise, the URL's `w` is kept, and reads go
 * to the primary whatever the URL says.
 */
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { storeClientOptions } from '../../../src/store/store.js';

function writeConcernFor(url: string) {
  return new MongoClient(url, storeClientOptions(5_000)).options.writeConcern;
}

describe('store client options', () => {
  it('when the URL names no write concern, then writes are acknowledged from the journal', () => {
    const concern = writeConcernFor('mongodb://127.0.0.1:27017/dw');
    assert.equal(concern?.journal, true);
    // No `w` of ours: the server's default applies ("majority" on most replica sets).
    assert.equal(concern?.w, undefined);
  });

  it("when the URL sets w, then it is kept beside the journal's", () => {
    const concern = writeConcernFor('mongodb://127.0.0.1:27017/dw?w=majority');
    assert.equal(concern?.w, 'majority');
    assert.equal(concern?.journal, true);
  });

  it('when the URL says journal=false, then the URL wins', () => {
    assert.equal(writeConcernFor('mongodb://127.0.0.1:27017/dw?journal=false')?.journal, false);
  });

  it('when the URL asks for reads from secondaries, then the store still reads from the primary', () => {
    const options = new MongoClient(
      'mongodb://127.0.0.1:27017/dw?readPreference=secondaryPreferred',
      storeClientOptions(5_000),
    ).options;
    assert.equal(options.readPreference.mode, 'primary');
  });

  it('when the store is made, then retryable writes stay off and operations are bounded', () => {
    const options = new MongoClient(
      'mongodb://127.0.0.1:27017/dw?retryWrites=true',
      storeClientOptions(3_000),
    ).options;
    assert.equal(options.retryWrites, false);
    assert.equal(options.socketTimeoutMS, 3_000);
    assert.equal(options.serverSelectionTimeoutMS, 2_000);
  });
});
