/**
 * The dashboard's files under /ui/ (manager/http/ui.ts), served from a folder made here: what is
 * served and how (types, caching, CSP, HEAD, 304), and that nothing outside the folder ever is.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import request from 'supertest';
import { silentLogger } from '../../../src/log.js';
import { errorBoundary } from '../../../src/manager/http/error-boundary.js';
import {
  API_CONTENT_SECURITY_POLICY,
  DASHBOARD_CONTENT_SECURITY_POLICY,
  securityHeaders,
} from '../../../src/manager/http/security.js';
import { serveDashboard } from '../../../src/manager/http/ui.js';

describe('the dashboard files (manager/http/ui)', () => {
  let top: string;
  let app: Koa;
  const html = '<!doctype html><title>dw</title><script type="module" src="app-ABCD2345.js"></script>';

  before(() => {
    top = mkdtempSync(join(tmpdir(), 'dw-ui-'));
    const dir = join(top, 'ui');
    mkdirSync(join(dir, 'empty'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), html);
    writeFileSync(join(dir, 'app-ABCD2345.js'), 'export {};\n');
    writeFileSync(join(dir, 'styles-ABCD2345.css'), 'body{}\n');
    writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(dir, '.hidden.js'), 'secret');
    writeFileSync(join(dir, 'notes.md'), 'not served');
    writeFileSync(join(top, 'secret.js'), 'outside');
    symlinkSync(join(top, 'secret.js'), join(dir, 'link.js'));
    app = new Koa();
    app.use(errorBoundary(silentLogger()));
    app.use(securityHeaders());
    app.use(serveDashboard({ dir }));
    app.use(async (ctx) => {
      ctx.body = { passedOn: ctx.path };
    });
  });
  after(() => rmSync(top, { recursive: true, force: true }));

  it('when /ui/ is asked for, then index.html comes with its own CSP, revalidated every time; /ui redirects to it', async () => {
    const page = await request(app.callback()).get('/ui/');
    assert.equal(page.status, 200);
    assert.equal(page.text, html);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['content-security-policy'], DASHBOARD_CONTENT_SECURITY_POLICY);
    assert.doesNotMatch(DASHBOARD_CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const again = await request(app.callback())
      .get('/ui/')
      .set('If-None-Match', page.headers.etag ?? '');
    assert.equal(again.status, 304);
    assert.equal(again.text, '');

    const bare = await request(app.callback()).get('/ui?x=1');
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/ui/?x=1');
    const head = await request(app.callback()).head('/ui/index.html');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(Buffer.byteLength(html)));
  });

  it('when a built file is asked for, then it has its type, and hashed names may be kept for good', async () => {
    const script = await request(app.callback()).get('/ui/app-ABCD2345.js');
    assert.equal(script.status, 200);
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(script.headers['cache-control'], 'public, max-age=31536000, immutable');
    const styles = await request(app.callback()).get('/ui/styles-ABCD2345.css');
    assert.equal(styles.headers['content-type'], 'text/css; charset=utf-8');
    const icon = await request(app.callback()).get('/ui/favicon.svg');
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
    assert.equal(icon.headers['cache-control'], 'no-cache');
  });

  it('when a path leads outside the folder, to a dotfile, a folder, a link out or an unknown type, then 404 JSON as the API answers', async () => {
    for (const path of [
      '/ui/../secret.js',
      '/ui/%2e%2e/secret.js',
      '/ui/..%2fsecret.js',
      '/ui/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/ui//etc/passwd',
      '/ui/%2Fetc%2Fpasswd',
      '/ui/.hidden.js',
      '/ui/empty',
      '/ui/empty/',
      '/ui/link.js',
      '/ui/notes.md',
      '/ui/app.js%00.html',
      '/ui/%E0%A4%A',
      '/ui/nothing.js',
    ]) {
      const res = await request(app.callback()).get(path);
      assert.equal(res.status, 404, `${path}: ${res.status} ${res.text}`);
      assert.equal(res.body.error.code, 'NOT_FOUND', path);
      assert.equal(res.headers['content-security-policy'], API_CONTENT_SECURITY_POLICY, path);
      assert.ok(!res.text.includes('outside') && !res.text.includes('secret\n'), path);
    }
  });

  it('when another method than GET or HEAD comes, then 405 with Allow; other paths pass on', async () => {
    for (const method of ['post', 'delete', 'put'] as const) {
      const res = await request(app.callback())[method]('/ui/index.html');
      assert.equal(res.status, 405, method);
      assert.equal(res.body.error.code, 'METHOD_NOT_ALLOWED');
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
    for (const path of ['/uix', '/jobs', '/u/i']) {
      const res = await request(app.callback()).get(path);
      assert.deepEqual(res.body, { passedOn: path });
    }
  });

  it('when the dashboard was not built, then 404 says how to build it', async () => {
    const bare = new Koa();
    bare.use(errorBoundary(silentLogger()));
    bare.use(serveDashboard({ dir: join(top, 'not-built') }));
    const res = await request(bare.callback()).get('/ui/');
    assert.equal(res.status, 404);
    assert.match(res.body.error.message, /npm run build/);
  });
});
