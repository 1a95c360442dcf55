import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FERRETDB_BUILD, FERRETDB_VERSION } from '../../../src/local/servers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

describe('the FerretDB build name (a cached binary is found by it)', () => {
  it('when install-backends.sh and swarm-engine.sh name the build, then they name the one servers.ts uses', () => {
    const installed = /^FERRETDB_BUILD=\$FERRETDB_VERSION(-[a-z-]+)$/m.exec(
      read('scripts/install-backends.sh'),
    );
    const swarm = /ferretdb-\$FERRETDB_VERSION(-[a-z-]+)"/.exec(read('scripts/swarm-engine.sh'));
    assert.equal(`${FERRETDB_VERSION}${installed?.[1]}`, FERRETDB_BUILD);
    assert.equal(`${FERRETDB_VERSION}${swarm?.[1]}`, FERRETDB_BUILD);
  });

  it('when a patch is added or removed, then the name changes with it (one name part per patch)', () => {
    // A binary cached by a build with other patches must not be picked up under the same name.
    const patches = readdirSync(join(root, 'scripts', 'ferretdb')).filter((file) => file.endsWith('.patch'));
    const parts = FERRETDB_BUILD.slice(FERRETDB_VERSION.length + 1).split('-');
    assert.equal(parts.length, patches.length, `${FERRETDB_BUILD} for ${patches.join(', ')}`);
  });
});
