/**
 * The `/schedules` routes on real servers: what a schedule shows (next run times in its time
 * zone), every refused body and the state it leaves (none), names taken and unknown, the cap,
 * and a store that does not answer.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Ajv2020 } from 'ajv/dist/2020.js';
import request from 'supertest';
import { ScheduleListSchema, ScheduleSchema } from '../../src/manager/http/schemas/schedule-schemas.js';
import { cronTicks, upcoming } from '../../src/manager/schedules/ticks.js';
import { type AppFixture, appFixture } from '../support/app-fixture.js';
import { backends, tubeCounts, withMongo } from '../support/harness.js';

const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
const validSchedule = ajv.compile(ScheduleSchema);
const validList = ajv.compile(ScheduleListSchema);
/** Whether `body` validates (a plain boolean: Ajv's type guard would narrow a response body to unknown). */
const conforms = (check: typeof validSchedule, body: unknown): boolean => check(body) === true;

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the /schedules routes on real servers', function () {
  this.timeout(60_000);
  let f: AppFixture;

  const post = (body: string, contentType = 'application/json') =>
    request(f.app.callback()).post('/schedules').set('Content-Type', contentType).send(body);
  const stored = async () =>
    withMongo(f.dbName, async (db) => ({
      schedules: await db.collection('schedules').countDocuments(),
      jobs: await db.collection('jobs').countDocuments(),
      keys: await db.collection('idempotency_keys').countDocuments(),
    }));

  beforeEach(async () => {
    f = await appFixture({ label: 'schedapi', maxJobSize: 2048 });
  });
  afterEach(async () => {
    await f.close();
  });

  it('when a cron schedule with a time zone is made, then it answers its next runs in that zone, and the list and GET show it', async () => {
    const before = new Date();
    const res = await post(
      JSON.stringify({
        name: 'nightly.report_1',
        cron: '30 2 * * MON-FRI',
        timezone: 'america/new_york',
        type: 'hash',
        payload: { report: 'nightly' },
        options: { priority: 10, algorithm: 'sha256' },
      }),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.location, '/schedules/nightly.report_1');
    assert.ok(conforms(validSchedule, res.body), ajv.errorsText(validSchedule.errors));
    const ticks = cronTicks('30 2 * * MON-FRI', 'America/New_York');
    const expected = upcoming(ticks, ticks.after(before), 3).map((d) => d.toISOString());
    assert.deepEqual(res.body.nextRuns, expected);
    assert.equal(res.body.nextRunAt, expected[0]);
    assert.equal(new Date(expected[0]!).getUTCMinutes(), 30);
    assert.ok(
      [6, 7].includes(new Date(expected[0]!).getUTCHours()),
      '02:30 in New York is 06:30 or 07:30 UTC',
    );
    assert.equal(res.body.timezone, 'America/New_York', 'the canonical name');
    assert.deepEqual(res.body.options, { priority: 10, delay: 0, ttr: 60, attempts: 3, algorithm: 'sha256' });
    assert.deepEqual(res.body.payload, { report: 'nightly' });
    assert.equal(res.body.catch_up, 'once');

    await post(JSON.stringify({ name: 'a-first', every_seconds: 3600, payload: [1] }));
    const list = await request(f.app.callback()).get('/schedules');
    assert.equal(list.status, 200);
    assert.ok(conforms(validList, list.body), ajv.errorsText(validList.errors));
    assert.deepEqual(
      list.body.schedules.map((s: { name: string }) => s.name),
      ['a-first', 'nightly.report_1'],
    );
    assert.ok(
      list.body.schedules.every((s: Record<string, unknown>) => !('payload' in s)),
      'no payloads in the list',
    );
    const hourly = list.body.schedules[0];
    assert.equal(hourly.every_seconds, 3600);
    assert.equal(
      Date.parse(hourly.nextRunAt) % 3_600_000,
      0,
      'every_seconds ticks at whole multiples since the epoch',
    );
    assert.deepEqual(
      hourly.nextRuns.map((t: string) => Date.parse(t) - Date.parse(hourly.nextRunAt)),
      [0, 3_600_000, 7_200_000],
    );
    const one = await request(f.app.callback()).get('/schedules/nightly.report_1');
    assert.deepEqual(one.body, res.body);
    assert.equal((await stored()).jobs, 0, 'no job before its first tick');
  });

  it('when a schedule body is bad in any way, then it is a 400 (or 413, 415) with a stable code, and nothing is stored', async () => {
    const base = { name: 'ok', every_seconds: 60, payload: { a: 1 } };
    const body = (changes: Record<string, unknown>) => JSON.stringify({ ...base, ...changes });
    const deep = `${'['.repeat(65)}${']'.repeat(65)}`;
    const cases: Array<[string, string, number, string]> = [
      ['bad cron', body({ every_seconds: undefined, cron: '61 * * * *' }), 400, 'INVALID_SCHEDULE'],
      [
        'cron with 7 fields',
        body({ every_seconds: undefined, cron: '0 0 0 1 1 * 2030' }),
        400,
        'INVALID_SCHEDULE',
      ],
      [
        'a date as cron',
        body({ every_seconds: undefined, cron: '2030-01-01T00:00:00' }),
        400,
        'INVALID_SCHEDULE',
      ],
      [
        'cron that never comes',
        body({ every_seconds: undefined, cron: '0 0 30 2 *' }),
        400,
        'INVALID_SCHEDULE',
      ],
      [
        'bad time zone',
        body({ every_seconds: undefined, cron: '0 * * * *', timezone: 'Mars/Olympus' }),
        400,
        'INVALID_SCHEDULE',
      ],
      ['time zone with every_seconds', body({ timezone: 'UTC' }), 400, 'INVALID_SCHEDULE'],
      ['both cron and every_seconds', body({ cron: '0 * * * *' }), 400, 'INVALID_SCHEDULE'],
      ['neither', body({ every_seconds: undefined }), 400, 'INVALID_SCHEDULE'],
      ['every_seconds 0', body({ every_seconds: 0 }), 400, 'INVALID_SCHEDULE'],
      ['every_seconds 1.5', body({ every_seconds: 1.5 }), 400, 'INVALID_SCHEDULE'],
      ['every_seconds as text', body({ every_seconds: '60' }), 400, 'INVALID_SCHEDULE'],
      ['every_seconds over a year', body({ every_seconds: 31_536_001 }), 400, 'INVALID_SCHEDULE'],
      ['bad name', body({ name: 'Nightly Report' }), 400, 'INVALID_SCHEDULE'],
      ['no name', body({ name: undefined }), 400, 'INVALID_SCHEDULE'],
      ['unknown field', body({ every: 60 }), 400, 'INVALID_SCHEDULE'],
      [
        'a field twice',
        '{"name":"ok","every_seconds":60,"payload":{},"payload":{}}',
        400,
        'INVALID_SCHEDULE',
      ],
      ['bad catch_up', body({ catch_up: 'all' }), 400, 'INVALID_SCHEDULE'],
      ['no payload', body({ payload: undefined }), 400, 'INVALID_SCHEDULE'],
      ['an array body', '[1]', 400, 'INVALID_SCHEDULE'],
      ['unknown type', body({ type: 'nosuchtype' }), 400, 'UNKNOWN_JOB_TYPE'],
      ['payload a number', body({ payload: 7 }), 400, 'INVALID_JOB'],
      ['payload too deep', `{"name":"ok","every_seconds":60,"payload":${deep}}`, 400, 'JSON_TOO_DEEP'],
      [
        'payload with __proto__',
        '{"name":"ok","every_seconds":60,"payload":{"__proto__":{"x":1}}}',
        400,
        'FORBIDDEN_KEY',
      ],
      ['payload too big once queued', body({ payload: { big: 'x'.repeat(1900) } }), 413, 'PAYLOAD_TOO_LARGE'],
      ['body over the limit', body({ payload: { big: 'x'.repeat(20_000) } }), 413, 'PAYLOAD_TOO_LARGE'],
      ['not JSON', '{"name":', 400, 'INVALID_JSON'],
      ['bad option value', body({ options: { priority: -1 } }), 400, 'INVALID_OPTION'],
      ['unknown option', body({ options: { speed: 1 } }), 400, 'INVALID_OPTION'],
      ['type among options', body({ options: { type: 'hash' } }), 400, 'INVALID_OPTION'],
      ['an option for another type', body({ options: { mean_ms: 5 } }), 400, 'INVALID_OPTION'],
      [
        'callback_url without webhooks',
        body({ options: { callback_url: 'https://example.com/' } }),
        400,
        'WEBHOOKS_DISABLED',
      ],
    ];
    for (const [what, text, status, code] of cases) {
      const res = await post(text);
      assert.deepEqual(
        [res.status, res.body.error?.code],
        [status, code],
        `${what}: ${JSON.stringify(res.body)}`,
      );
    }
    const plain = await post(body({}), 'text/plain');
    assert.deepEqual([plain.status, plain.body.error.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
    assert.deepEqual(await stored(), { schedules: 0, jobs: 0, keys: 0 });
    assert.equal((await tubeCounts(backends().beanstalk.port, f.tube)).total, 0);
    assert.deepEqual((await request(f.app.callback()).get('/schedules')).body, { schedules: [] });
  });

  it('when a name is taken, unknown or malformed, then 409, 404 or 400, and nothing changes', async () => {
    const body = JSON.stringify({ name: 'taken', every_seconds: 60, payload: { a: 1 } });
    assert.equal((await post(body)).status, 201);
    const again = await post(JSON.stringify({ name: 'taken', every_seconds: 5, payload: { b: 2 } }));
    assert.deepEqual([again.status, again.body.error.code], [409, 'SCHEDULE_EXISTS']);
    assert.equal(
      (await request(f.app.callback()).get('/schedules/taken')).body.every_seconds,
      60,
      'the first stays',
    );
    const app = f.app.callback();
    for (const call of [
      request(app).get('/schedules/nosuch'),
      request(app).post('/schedules/nosuch/pause'),
      request(app).post('/schedules/nosuch/resume'),
      request(app).delete('/schedules/nosuch'),
    ]) {
      const res = await call;
      assert.deepEqual([res.status, res.body.error.code], [404, 'SCHEDULE_NOT_FOUND']);
    }
    const malformed = await request(app).get('/schedules/Not%20A%20Name');
    assert.deepEqual([malformed.status, malformed.body.error.code], [400, 'INVALID_SCHEDULE']);
    const put = await request(app).put('/schedules/taken').set('Content-Type', 'application/json').send(body);
    assert.equal(put.status, 405);
    // The API's own name: never a job, even with ACCEPT_ANY_PATH.
    const typo = await request(app)
      .post('/schedules/taken/x')
      .set('Content-Type', 'application/json')
      .send('{}');
    assert.ok([404, 405].includes(typo.status));
    assert.deepEqual(await stored(), { schedules: 1, jobs: 0, keys: 0 });
  });

  it('when 1,000 schedules exist, then one more is 409 TOO_MANY_SCHEDULES', async () => {
    assert.equal((await post(JSON.stringify({ name: 'first', every_seconds: 60, payload: {} }))).status, 201);
    const template = await withMongo(f.dbName, (db) =>
      db.collection('schedules').findOne({ _id: 'first' as never }),
    );
    await withMongo(f.dbName, (db) =>
      db
        .collection('schedules')
        .insertMany(Array.from({ length: 999 }, (_, n) => ({ ...template, _id: `s${n}` as never }))),
    );
    const res = await post(JSON.stringify({ name: 'one-more', every_seconds: 60, payload: {} }));
    assert.deepEqual([res.status, res.body.error.code], [409, 'TOO_MANY_SCHEDULES']);
    assert.equal((await request(f.app.callback()).get('/schedules')).body.schedules.length, 1000);
  });

  it('when eight managers claim one tick at once, then exactly one holds it, and a claim that ran out is taken over', async () => {
    // A conditional update does not exclude a concurrent one on FerretDB (docs/facts.md); an insert does.
    for (let round = 0; round < 20; round += 1) {
      const now = new Date();
      const wins = await Promise.all(
        Array.from({ length: 8 }, (_, i) => f.store.claimTick(`tick ${round}`, `m${i}`, now, 5000)),
      );
      assert.equal(wins.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(wins)}`);
    }
    const now = new Date();
    assert.equal(await f.store.claimTick('tick x', 'dead', new Date(now.getTime() - 10_000), 5000), true);
    assert.equal(
      await f.store.claimTick('tick x', 'alive', now, 5000),
      true,
      'the dead holder’s claim ran out',
    );
    assert.equal(await f.store.claimTick('tick x', 'other', now, 5000), false);
    await f.store.releaseTick('tick x', 'alive');
    assert.equal(await f.store.claimTick('tick x', 'other', now, 5000), true, 'given back');
  });

  it('when MongoDB does not answer, then schedule routes answer 503 STORE_UNAVAILABLE quickly', async () => {
    const down = await appFixture({
      label: 'scheddown',
      mongoUrl: `mongodb://127.0.0.1:${await deadPort()}`,
    });
    try {
      const started = Date.now();
      const app = down.app.callback();
      for (const call of [
        request(app)
          .post('/schedules')
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ name: 'x', every_seconds: 60, payload: {} })),
        request(app).get('/schedules'),
        request(app).get('/schedules/x'),
        request(app).post('/schedules/x/pause'),
        request(app).delete('/schedules/x'),
      ]) {
        const res = await call;
        assert.deepEqual([res.status, res.body.error.code], [503, 'STORE_UNAVAILABLE']);
      }
      assert.ok(Date.now() - started < 20_000, 'within the store timeout each');
    } finally {
      await down.close();
    }
  });
});
