/**
 * The dashboard beside the API in the manager's app: its files need no key where the API does,
 * the API keeps its own strict CSP, and a POST under /ui is never a job (ACCEPT_ANY_PATH).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import {
  API_CONTENT_SECURITY_POLICY,
  DASHBOARD_CONTENT_SECURITY_POLICY,
} from '../../src/manager/http/security.js';
import { type AppFixture, appFixture } from '../support/app-fixture.js';
import { backends, tubeCounts, withMongo } from '../support/harness.js';

const KEY = 'dashboard-test-key-0123456789abcdef';

describe('the dashboard served by the manager (integration)', () => {
  let f: AppFixture;
  let dir: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dw-ui-app-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>dw</title>');
    f = await appFixture({
      label: 'uiserve',
      uiDir: dir,
      security: {
        apiKeys: [{ name: 'ops', key: KEY }],
        authReads: true,
        authOps: true,
        rateLimitPerMinute: 0,
        corsOrigins: [],
      },
    });
  });
  afterEach(async () => {
    await f.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when API keys are set, then the page loads without one while the API still asks for it, each with its own CSP', async () => {
    const page = await request(f.app.callback()).get('/ui/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-security-policy'], DASHBOARD_CONTENT_SECURITY_POLICY);
    const stats = await request(f.app.callback()).get('/stats');
    assert.equal(stats.status, 401);
    assert.equal(stats.headers['content-security-policy'], API_CONTENT_SECURITY_POLICY);
    const keyed = await request(f.app.callback()).get('/stats').set('Authorization', `Bearer ${KEY}`);
    assert.equal(keyed.status, 200);
    assert.equal(keyed.headers['content-security-policy'], API_CONTENT_SECURITY_POLICY);
    const metrics = await request(f.app.callback()).get('/metrics').set('Authorization', `Bearer ${KEY}`);
    assert.match(
      metrics.text,
      /dw_http_request_duration_seconds_count\{method="GET",route="\/ui\/\*",status="200"\} 1/,
    );
  });

  it('when a JSON job is POSTed under /ui (ACCEPT_ANY_PATH is on), then it is refused and nothing is recorded or queued', async () => {
    for (const path of ['/ui', '/ui/', '/ui/jobs', '/UI/x', '/Ui', '/uix']) {
      const res = await request(f.app.callback())
        .post(path)
        .set('Authorization', `Bearer ${KEY}`)
        .set('Content-Type', 'application/json')
        .send('{"example":"data"}');
      assert.ok([404, 405].includes(res.status), `${path}: ${res.status} ${res.text}`);
      assert.match(res.body.error.code, /^(NOT_FOUND|METHOD_NOT_ALLOWED)$/, path);
    }
    const control = await request(f.app.callback())
      .post('/submit')
      .set('Authorization', `Bearer ${KEY}`)
      .set('Content-Type', 'application/json')
      .send('{"example":"data"}');
    assert.equal(control.status, 202, 'a path outside the API and /ui is still a job');
    assert.equal(await withMongo(f.dbName, (db) => db.collection('jobs').countDocuments()), 1);
    assert.equal((await tubeCounts(backends().beanstalk.port, f.tube)).total, 1);
  });
});
