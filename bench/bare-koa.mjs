// The baseline for HTTP enqueue: a bare Koa route that reads and parses the same body the
// manager does and answers 202, with nothing behind it. Run: node bench/bare-koa.mjs PORT
import { createServer } from 'node:http';
import Koa from 'koa';
import getRawBody from 'raw-body';

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method !== 'POST') return;
  const text = (await getRawBody(ctx.req, { limit: 65_535 })).toString('utf8');
  const value = JSON.parse(text);
  ctx.status = 202;
  ctx.body = { ok: typeof value === 'object' };
});
createServer(app.callback()).listen(Number(process.argv[2]), '127.0.0.1');
