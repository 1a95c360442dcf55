import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The layering docs/architecture.md ("What imports what") states, read from the import lines.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = new Set(['src/errors.ts', 'src/log.ts', 'src/json-object.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

interface Imports {
  /** Every file imported, type-only imports included. */
  all: string[];
  /** The files imported for their values: what runs. */
  values: string[];
}

/** Each file's imports of our own files (static, `export … from` and dynamic), as paths from the root. */
function importGraph(): Map<string, Imports> {
  const graph = new Map<string, Imports>();
  for (const file of ['index.ts', ...sourceFiles('src')]) {
    const text = readFileSync(join(root, file), 'utf8');
    const all = new Set<string>();
    const values = new Set<string>();
    for (const match of text.matchAll(
      /(\bimport\s+type\b[^;]*?)?(?:\bfrom|\bimport\s*\(?)\s*'(\.{1,2}\/[^']+)'/g,
    )) {
      const target = relative(root, resolve(root, dirname(file), match[2]!.replace(/\.js$/, '.ts')));
      all.add(target);
      if (match[1] === undefined) values.add(target);
    }
    graph.set(file, { all: [...all], values: [...values] });
  }
  return graph;
}

const folderOf = (file: string) => file.split('/').slice(0, 2).join('/');

describe('layers: what imports what (docs/architecture.md)', () => {
  const graph = importGraph();

  it('when the import lines are read, then every target is a file of the tree', () => {
    assert.ok(graph.size > 100, `only ${graph.size} files read`);
    for (const [file, { all }] of graph)
      for (const target of all) assert.ok(graph.has(target), `${file} imports ${target}, not found`);
  });

  it('when the two adapters are read, then queue/ and store/ import nothing of ours outside themselves', () => {
    for (const [file, { all }] of graph) {
      const folder = folderOf(file);
      if (folder !== 'src/queue' && folder !== 'src/store') continue;
      const outside = all.filter((target) => folderOf(target) !== folder);
      assert.deepEqual(outside, [], `${file} imports ${outside.join(', ')}`);
    }
  });

  it('when the roles are read, then the manager and the worker do not import each other, and no layer imports the CLI', () => {
    for (const [file, { all }] of graph) {
      const folder = folderOf(file);
      for (const target of all) {
        assert.notEqual(target, 'index.ts', `${file} imports the CLI`);
        const pair = `${folder} → ${folderOf(target)}`;
        assert.ok(
          pair !== 'src/manager → src/worker' && pair !== 'src/worker → src/manager',
          `${file}: ${pair}`,
        );
      }
    }
  });

  it('when the shared leaves and handlers/ are read, then what they run imports nothing of ours but the shared leaves', () => {
    for (const [file, { values }] of graph) {
      if (!SHARED.has(file) && folderOf(file) !== 'src/handlers') continue;
      const ours = values.filter((target) => folderOf(target) !== 'src/handlers' && !SHARED.has(target));
      assert.deepEqual(ours, [], `${file} imports ${ours.join(', ')}`);
    }
  });

  it('when every import is followed, then no file imports itself back (no cycle)', () => {
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open')
        assert.fail(`import cycle: ${[...path.slice(path.indexOf(file)), file].join(' → ')}`);
      state.set(file, 'open');
      for (const target of graph.get(file)?.all ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
  });
});
