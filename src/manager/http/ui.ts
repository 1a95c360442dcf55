/**
 * The dashboard's files under /ui/ (built by scripts/build-ui.mjs into dist/ui): GET and HEAD,
 * index.html for /ui/, a redirect from /ui, their own Content-Security-Policy, and no API key
 * asked — the page asks for the key and sends it with each API call it makes. Mounted before the
 * router and the key check (app.ts): /ui is not an API route and is not in the route table.
 */
import { access, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Middleware, Next } from 'koa';
import { AppError, ErrorCode } from '../../errors.js';
import { DASHBOARD_CONTENT_SECURITY_POLICY } from './security.js';

/** Where the dashboard is served; routes.ts keeps the name from becoming a job path (ACCEPT_ANY_PATH). */
export const DASHBOARD_PATH = '/ui';

/** The route label HTTP metrics give every dashboard file (never the raw path). */
export const DASHBOARD_ROUTE = `${DASHBOARD_PATH}/*`;

/** Only these are served: what the build writes. Anything else in the folder is a 404. */
const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
});

/** esbuild's `[name]-[hash]` names: their content never changes under that name. */
const CONTENT_HASHED = /-[A-Z0-9]{8}\.(js|css)$/;

/** dist/ui: next to the compiled server when built, under dist/ when run from source (tsx). */
export function defaultDashboardDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const top = resolve(here, '..', '..', '..');
  return basename(top) === 'dist' ? join(top, 'ui') : join(top, 'dist', 'ui');
}

/** The file a path below /ui/ names, or undefined: never a path outside `root`, a dotfile or a folder. */
async function findFile(root: string, rest: string): Promise<string | undefined> {
  let relative: string;
  try {
    relative = decodeURIComponent(rest);
  } catch {
    return undefined;
  }
  if (relative.includes('\0')) return undefined;
  if (relative === '' || relative.endsWith('/')) relative += 'index.html';
  if (relative.split('/').some((segment) => segment.startsWith('.'))) return undefined;
  const candidate = resolve(root, relative);
  if (!candidate.startsWith(root + sep) || !(extname(candidate) in CONTENT_TYPES)) return undefined;
  try {
    // A symbolic link may not lead out of the folder either.
    const [real, realRoot] = await Promise.all([realpath(candidate), realpath(root)]);
    if (!real.startsWith(realRoot + sep) || !(await stat(real)).isFile()) return undefined;
    return real;
  } catch {
    return undefined;
  }
}

/** Serves `dir` (default: dist/ui) under /ui/; every other path goes on down the chain. */
export function serveDashboard(options: { dir?: string } = {}): Middleware {
  const root = resolve(options.dir ?? defaultDashboardDir());
  return async (ctx: Context, next: Next) => {
    const path = ctx.path;
    if (path !== DASHBOARD_PATH && !path.startsWith(`${DASHBOARD_PATH}/`)) return next();
    ctx.state.route = DASHBOARD_ROUTE;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      throw new AppError(ErrorCode.METHOD_NOT_ALLOWED, `${ctx.method} is not allowed here; use GET, HEAD`, {
        headers: { Allow: 'GET, HEAD' },
      });
    }
    if (path === DASHBOARD_PATH) {
      ctx.status = 301;
      ctx.redirect(`${DASHBOARD_PATH}/${ctx.querystring === '' ? '' : `?${ctx.querystring}`}`);
      return;
    }
    const file = await findFile(root, path.slice(DASHBOARD_PATH.length + 1));
    if (file === undefined) {
      const built = await access(join(root, 'index.html')).then(
        () => true,
        () => false,
      );
      throw new AppError(
        ErrorCode.NOT_FOUND,
        built
          ? `no file ${path} in the dashboard`
          : 'the dashboard is not built here: `npm run build` writes it to dist/ui',
      );
    }
    const info = await stat(file);
    ctx.status = 200;
    ctx.etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    ctx.lastModified = info.mtime;
    ctx.set('Content-Security-Policy', DASHBOARD_CONTENT_SECURITY_POLICY);
    // index.html names the hashed files of its build: it is checked again every time.
    ctx.set('Cache-Control', CONTENT_HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    // Small files (the whole bundle is tens of kB); Koa sends no body for HEAD.
    ctx.body = await readFile(file);
  };
}
