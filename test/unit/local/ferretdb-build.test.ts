import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ferretdbBinary } from '../../../src/local/servers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** What install-backends.sh at `scriptsDir` prints for `flag`, with the cache in `cacheDir`. */
function ask(scriptsDir: string, flag: string, cacheDir: string): string {
  return execFileSync('bash', [join(scriptsDir, 'install-backends.sh'), flag], {
    encoding: 'utf8',
    env: { ...process.env, DW_CACHE_DIR: cacheDir },
  }).trim();
}

describe('the FerretDB build name (a cached binary is found by it)', () => {
  const cache = dirname(ferretdbBinary());
  let copy: string;

  beforeEach(() => {
    // The scripts as a checkout elsewhere would have them, to change without touching ours.
    copy = mkdtempSync(join(tmpdir(), 'dw-ferretdb-name-'));
    cpSync(join(root, 'scripts', 'install-backends.sh'), join(copy, 'install-backends.sh'));
    cpSync(join(root, 'scripts', 'ferretdb'), join(copy, 'ferretdb'), { recursive: true });
  });
  afterEach(() => rmSync(copy, { recursive: true, force: true }));

  it('when servers.ts looks for the binary, then it is where install-backends.sh caches the build', () => {
    assert.equal(ask(join(root, 'scripts'), '--ferretdb-name', cache), ferretdbBinary());
    assert.match(ferretdbBinary(), /\/ferretdb-v1\.24\.2-[0-9a-f]{12}$/);
  });

  it('when the same scripts are elsewhere, then the build has the same name', () => {
    assert.equal(ask(copy, '--ferretdb-name', cache), ferretdbBinary());
  });

  it("when a patch's content changes, then the build's name changes", () => {
    const [patch] = readdirSync(join(copy, 'ferretdb')).filter((file) => file.endsWith('.patch'));
    assert.ok(patch, 'no patch to change');
    appendFileSync(join(copy, 'ferretdb', patch), '\n');
    assert.notEqual(ask(copy, '--ferretdb-name', cache), ferretdbBinary());
  });

  it('when a patch is added, then the name changes', () => {
    writeFileSync(join(copy, 'ferretdb', 'zz-another.patch'), '');
    assert.notEqual(ask(copy, '--ferretdb-name', cache), ferretdbBinary());
  });

  it("when the build's recipe changes, then the name changes", () => {
    const script = join(copy, 'install-backends.sh');
    const text = readFileSync(script, 'utf8');
    assert.match(text, /-tags 'netgo /);
    writeFileSync(script, text.replace("-tags 'netgo ", "-tags 'netgo sqlite_fts5 "));
    assert.notEqual(ask(copy, '--ferretdb-name', cache), ferretdbBinary());
  });

  it('when the swarm images need the binary, then they ask install-backends.sh for its path instead of naming it', () => {
    const swarm = read('scripts/swarm-engine.sh');
    assert.match(swarm, /ferretdb=\$\(bash "\$root\/scripts\/install-backends\.sh" --ferretdb-path\)/);
    assert.doesNotMatch(swarm, /ferretdb-\$FERRETDB_VERSION|ferretdb-v\d/);
  });

  it('when asked for the path of a built binary, then install-backends.sh prints the one servers.ts runs', function () {
    // Built by the global setup, unless MONGO_URL named another server: then asking would build it.
    if (!existsSync(ferretdbBinary())) this.skip();
    assert.equal(ask(join(root, 'scripts'), '--ferretdb-path', cache), ferretdbBinary());
  });
});
