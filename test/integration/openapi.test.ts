/**
 * /openapi.json against the router and the real answers: every registered route is
 * documented, every documented operation exists and answers with a documented status and a
 * body that validates against the documented schema; every error code is documented.
 */
import assert from 'node:assert/strict';
import type { Layer, Router } from '@koa/router';
import { Ajv2020 } from 'ajv/dist/2020.js';
import request from 'supertest';
import { ErrorCode } from '../../src/errors.js';
import { ROUTES } from '../../src/manager/http/routes/routes.js';
import { type AppFixture, appFixture } from '../support/app-fixture.js';
import { firstChunkOnly } from '../support/sse-client.js';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};
type Operation = {
  operationId: string;
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: { content: Record<string, { example: unknown }> };
  responses: Record<string, { content: Record<string, { schema: unknown }> }>;
};

const koaToOpenApi = (path: string) => path.replace(/:(\w+)/g, '{$1}');

describe('OpenAPI document', function () {
  this.timeout(30_000);
  let f: AppFixture;
  let doc: Doc;

  beforeEach(async () => {
    f = await appFixture({ label: 'openapi' });
    const res = await request(f.app.callback()).get('/openapi.json');
    assert.equal(res.status, 200);
    doc = res.body as Doc;
  });
  afterEach(async () => {
    await f.close();
  });

  it('when the router and the document are compared, then every registered route is documented and every documented one is registered', () => {
    assert.equal(doc.openapi, '3.1.0');
    const routers = f.app.middleware
      .map((fn) => (fn as { router?: Router }).router)
      .filter((r): r is Router => r !== undefined);
    assert.equal(routers.length, 1, 'one router');
    const registered = new Set<string>();
    for (const layer of routers[0]!.stack as Layer[]) {
      for (const method of layer.methods) {
        if (method !== 'HEAD') registered.add(`${method} ${koaToOpenApi(String(layer.path))}`);
      }
    }
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    assert.deepEqual([...registered].sort(), [...documented].sort());
    assert.equal(documented.size, ROUTES.length);
  });

  it('when every documented operation is called as documented, then it answers with a documented status and body', async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ $id: 'doc', components: doc.components });
    const validate = (schema: unknown, body: unknown, what: string) => {
      const rooted = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'));
      const check = ajv.compile(rooted);
      assert.ok(
        check(body),
        `${what}: ${ajv.errorsText(check.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
      );
    };
    const posted = await request(f.app.callback())
      .post('/jobs')
      .set('Content-Type', 'application/json')
      .send('{"example":"data"}');
    const realId = posted.body.id as string;
    const matrix = await request(f.app.callback())
      .post('/jobs/matrix')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ axes: { n: [1, 2] } }));
    const groupId = matrix.body.group as string;

    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const url = path
          .replace('{id}', path.startsWith('/groups/') ? groupId : realId)
          .replace('{type}', 'hash');
        let call = request(f.app.callback())[method as 'get' | 'post'](url);
        // An event stream never ends: read its head and first lines, then close it.
        if (op.responses['200']?.content['text/event-stream']) call = firstChunkOnly(call);
        const example = op.requestBody?.content['application/json']?.example;
        if (example !== undefined)
          call = call.set('Content-Type', 'application/json').send(JSON.stringify(example));
        const res = await call;
        const what = `${method.toUpperCase()} ${path} (${op.operationId}) → ${res.status}`;
        assert.ok(![404, 405].includes(res.status), what);
        const documented = op.responses[String(res.status)];
        assert.ok(documented, `${what} is a documented status`);
        const [contentType, media] = Object.entries(documented.content)[0]!;
        assert.ok(String(res.headers['content-type']).startsWith(contentType.split(';')[0]!), what);
        // A stream's first lines come back as the parsed body (firstChunkOnly).
        const text = contentType === 'text/event-stream' ? String(res.body) : res.text;
        validate(media.schema, contentType === 'application/json' ? res.body : text, what);
        if (contentType === 'text/event-stream') assert.match(text, /^retry: \d+\n/, what);
      }
    }
  });

  it('when errors happen, then their codes are the ones documented for that operation and status', async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ $id: 'doc', components: doc.components });
    const cases: Array<[string, string, () => request.Test]> = [
      ['/jobs/{id}', 'get', () => request(f.app.callback()).get('/jobs/not-an-id')],
      [
        '/jobs/{id}',
        'get',
        () => request(f.app.callback()).get('/jobs/0193b5a0-7c1e-7d3a-9f1e-2b4c6d8e0a1b'),
      ],
      [
        '/jobs',
        'post',
        () => request(f.app.callback()).post('/jobs').set('Content-Type', 'text/plain').send('{}'),
      ],
      [
        '/jobs',
        'post',
        () => request(f.app.callback()).post('/jobs').set('Content-Type', 'application/json').send('7'),
      ],
      [
        '/jobs/outcomes',
        'post',
        () =>
          request(f.app.callback()).post('/jobs/outcomes').set('Content-Type', 'application/json').send('{}'),
      ],
    ];
    for (const [path, method, send] of cases) {
      const res = await send();
      const response = doc.paths[path]?.[method]?.responses[String(res.status)];
      assert.ok(response, `${method} ${path} documents ${res.status}`);
      const schema = JSON.parse(
        JSON.stringify(response.content['application/json']?.schema).replaceAll(
          '"#/components/',
          '"doc#/components/',
        ),
      );
      const check = ajv.compile(schema);
      assert.ok(
        check(res.body),
        `${method} ${path} ${res.status} ${res.body.error?.code}: ${ajv.errorsText(check.errors)}`,
      );
    }
    const text = JSON.stringify(doc);
    for (const code of Object.values(ErrorCode))
      assert.ok(text.includes(`"${code}"`), `${code} is documented`);
  });
});
