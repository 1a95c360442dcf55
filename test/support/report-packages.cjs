// Preloaded (`--require`) into a CLI process by a test: when the process exits, writes to stderr
// the npm packages it loaded through Node's CommonJS loader, one line: `loaded packages: a,b,…`.
// Packages that are ES modules only (@koa/router) do not show; Koa's ES wrapper loads its
// CommonJS code, so Koa does.
'use strict';
process.on('exit', () => {
  const names = new Set();
  for (const path of Object.keys(require.cache)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
    if (match) names.add(match[1]);
  }
  require('node:fs').writeSync(2, `loaded packages: ${[...names].sort().join(',')}\n`);
});
