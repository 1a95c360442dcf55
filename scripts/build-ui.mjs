#!/usr/bin/env node
// Builds the dashboard (ui/) into dist/ui/, which the manager serves under /ui/ (src/manager/http/ui.ts):
// one JavaScript bundle (Preact and uPlot included: no CDN, works offline) and one stylesheet,
// named by their content's hash so browsers may keep them for good, and index.html naming them.
// Prints each file's size, raw and gzipped; fails when the gzipped total passes the budget.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'ui');
const out = join(root, 'dist', 'ui');
/** The goal for the whole dashboard, gzipped. */
const BUDGET_GZIP_BYTES = 150 * 1024;

// Only this build's files: earlier hashed names would be served forever otherwise.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { app: join(source, 'src', 'main.tsx'), styles: join(source, 'styles.css') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
  tsconfig: join(source, 'tsconfig.json'),
});

const outputs = Object.keys(result.metafile.outputs).map((file) => join(root, file));
const named = (ext) => {
  const file = outputs.find((path) => path.endsWith(ext));
  if (!file) throw new Error(`esbuild wrote no ${ext} file`);
  return basename(file);
};
const script = named('.js');
const styles = named('.css');
const html = readFileSync(join(source, 'index.html'), 'utf8');
if (!html.includes('src="app.js"') || !html.includes('href="styles.css"'))
  throw new Error('ui/index.html must name app.js and styles.css');
writeFileSync(
  join(out, 'index.html'),
  html.replace('src="app.js"', `src="${script}"`).replace('href="styles.css"', `href="${styles}"`),
);
copyFileSync(join(source, 'favicon.svg'), join(out, 'favicon.svg'));

const kB = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;
let raw = 0;
let gzipped = 0;
const lines = [];
for (const file of [join(out, 'index.html'), ...outputs, join(out, 'favicon.svg')]) {
  const bytes = readFileSync(file);
  const zipped = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gzipped += zipped;
  lines.push(
    `  ${relative(root, file).padEnd(36)} ${kB(bytes.length).padStart(9)}  gzip ${kB(zipped).padStart(8)}`,
  );
}
console.log(`dashboard built into ${relative(root, out)}/:`);
for (const line of lines) console.log(line);
console.log(
  `  ${'total'.padEnd(36)} ${kB(raw).padStart(9)}  gzip ${kB(gzipped).padStart(8)}  (budget ${kB(BUDGET_GZIP_BYTES)} gzipped)`,
);
if (gzipped > BUDGET_GZIP_BYTES) {
  console.error(`the dashboard is ${kB(gzipped)} gzipped, over its budget of ${kB(BUDGET_GZIP_BYTES)}`);
  process.exit(1);
}
