import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FERRETDB_BUILD, FERRETDB_VERSION, ferretdbBinary } from '../../../src/local/servers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

describe('the FerretDB build name (a cached binary is found by it)', () => {
  it('when install-backends.sh names the build, then it names the one servers.ts uses', () => {
    const installed = /^FERRETDB_BUILD=\$FERRETDB_VERSION(-[a-z-]+)$/m.exec(
      read('scripts/install-backends.sh'),
    );
    assert.equal(`${FERRETDB_VERSION}${installed?.[1]}`, FERRETDB_BUILD);
  });

  it('when the swarm images need the binary, then they ask install-backends.sh for its path instead of naming it', () => {
    const swarm = read('scripts/swarm-engine.sh');
    assert.match(swarm, /ferretdb=\$\(bash "\$root\/scripts\/install-backends\.sh" --ferretdb-path\)/);
    assert.doesNotMatch(swarm, /ferretdb-\$FERRETDB_VERSION|ferretdb-v\d/);
  });

  it('when asked for the path, then install-backends.sh prints the binary servers.ts runs', function () {
    // Built by the global setup, unless MONGO_URL named another server: then asking would build it.
    if (!existsSync(ferretdbBinary())) this.skip();
    const printed = execFileSync('bash', [join(root, 'scripts', 'install-backends.sh'), '--ferretdb-path'], {
      encoding: 'utf8',
      env: { ...process.env, DW_CACHE_DIR: dirname(ferretdbBinary()) },
    });
    assert.equal(printed.trim(), ferretdbBinary());
  });

  it('when a patch is added or removed, then the name changes with it (one name part per patch)', () => {
    // A binary cached by a build with other patches must not be picked up under the same name.
    const patches = readdirSync(join(root, 'scripts', 'ferretdb')).filter((file) => file.endsWith('.patch'));
    const parts = FERRETDB_BUILD.slice(FERRETDB_VERSION.length + 1).split('-');
    assert.equal(parts.length, patches.length, `${FERRETDB_BUILD} for ${patches.join(', ')}`);
  });
});
