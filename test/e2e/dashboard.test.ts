/**
 * The dashboard (/ui/) in a real browser — Debian's Chromium driven by playwright-core — against
 * the built manager and workers as processes, on real beanstalkd and MongoDB: every page shows
 * what the API says, the throughput chart moves while jobs flow, the page's buttons change the
 * system (checked through the API and beanstalkd), the page asks for an API key when the manager
 * needs one, and no page logs an error or breaks its Content-Security-Policy.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort, waitForPort } from '../../src/local/servers.js';
import { createConsumer } from '../../src/queue/index.js';
import { launchBrowser, numberAttribute, watchPage } from '../support/browser.js';
import {
  backendEnv,
  backends,
  beanstalkRaw,
  dropDatabase,
  isolation,
  type SpawnedCli,
  spawnCli,
  stopAllSpawned,
  tubeCounts,
  waitFor,
} from '../support/harness.js';

interface JobAnswer {
  id: string;
  state: string;
  attempts: number;
  result?: { hash?: string; worker?: string };
}

/** What Chromium writes to the console for every answer it got with that status. */
const consoleLineFor = (status: number) =>
  new RegExp(`Failed to load resource: the server responded with a status of ${status}\\b`);

describe('the dashboard in a real browser (end to end)', function () {
  this.timeout(240_000);
  let browser: Browser;
  let context: BrowserContext | undefined;
  let env: Record<string, string>;
  let dbName: string;
  let tubePrefix: string;
  let base: string;
  let apiKey: string | undefined;

  const startManager = async (extra: Record<string, string> = {}) => {
    const port = await freePort();
    const manager = spawnCli(['manager'], {
      ...env,
      MANAGER_LISTEN_PORT: String(port),
      MANAGER_LISTEN_HOST: '127.0.0.1',
      ...extra,
    });
    await waitForPort(port, 15_000, manager.child);
    base = `http://127.0.0.1:${port}`;
    return manager;
  };
  /** A worker that reports every half second, so /stats and /workers follow quickly. */
  const startWorker = (name: string): SpawnedCli =>
    spawnCli(['worker'], { ...env, WORKER_NAME: name, WORKER_HEARTBEAT_MS: '500' });

  const api = async <T>(
    path: string,
    method = 'GET',
    body?: unknown,
  ): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const postJob = async (payload: unknown, query = '') => {
    const answer = await api<JobAnswer>(`/jobs${query}`, 'POST', payload);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    return answer.body.id;
  };
  const jobState = async (id: string) => (await api<JobAnswer>(`/jobs/${id}`)).body.state;
  const waitForState = (id: string, state: string, timeoutMs = 30_000) =>
    waitFor(`job ${id} to be ${state}`, async () => (await jobState(id)) === state, timeoutMs, 100);
  const hashRow = async (type = 'hash') => {
    const stats = await api<{ types: Array<Record<string, number | string>> }>('/stats');
    return stats.body.types.find((row) => row.type === type);
  };

  /** A new page (its own sessionStorage) at `hash` of the dashboard, watched for problems. */
  const openPage = async (hash = '#/', viewport = { width: 1280, height: 900 }) => {
    context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const problems = await watchPage(page);
    await page.goto(`${base}/ui/${hash}`);
    return { page, problems };
  };
  /** Waits until `selector`'s text matches `pattern`. */
  const waitForText = (page: Page, selector: string, pattern: RegExp, timeoutMs = 20_000) =>
    waitFor(
      `${selector} to show ${pattern}`,
      async () => pattern.test((await page.locator(selector).first().textContent()) ?? ''),
      timeoutMs,
      100,
    );
  /** Nothing wider than the screen but the tables, which scroll in their own box. */
  const assertFitsWidth = async (page: Page) => {
    const [scrollWidth, innerWidth] = (await page.evaluate(
      '[document.documentElement.scrollWidth, window.innerWidth]',
    )) as [number, number];
    assert.ok(scrollWidth <= innerWidth, `the page fits the screen: ${scrollWidth} <= ${innerWidth}`);
  };

  before(async function () {
    // The first run on a machine installs Chromium (apt-get, about a minute).
    this.timeout(600_000);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(() => {
    const iso = isolation('dash');
    dbName = iso.dbName;
    tubePrefix = iso.tubePrefix;
    apiKey = undefined;
    env = { ...backendEnv(iso), LOG_LEVEL: 'info' };
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
    await stopAllSpawned();
    await dropDatabase(dbName);
  });

  it('when jobs have run, then every page shows them as the API does: overview, jobs, a job, workers and hosts, groups', async () => {
    await startManager();
    startWorker('dash-w1');
    const ids = [await postJob({ page: 1 }), await postJob({ page: 2 }), await postJob({ page: 3 })];
    const matrix = await api<{ group: string; onComplete: { id: string }; jobs: Array<{ id: string }> }>(
      '/jobs/matrix',
      'POST',
      {
        template: { m: 1 },
        axes: { color: ['red', 'blue'] },
        on_complete: {},
      },
    );
    assert.equal(matrix.status, 202);
    const group = matrix.body.group;
    const completion = matrix.body.onComplete.id;
    const sample = await postJob({}, '?type=metrics');
    for (const id of [...ids, sample, completion]) await waitForState(id, 'completed');
    await waitFor(
      'the group to be done',
      async () => (await api<{ done: boolean }>(`/groups/${group}`)).body.done,
    );
    await waitFor('/stats to count the 5 hash jobs', async () => (await hashRow())?.completed === 5);
    const job = (await api<JobAnswer>(`/jobs/${ids[0]}`)).body;

    const { page, problems } = await openPage('#/');
    await waitForText(page, '[data-backend="beanstalkd"]', /^reachable$/);
    await waitForText(page, '[data-backend="MongoDB"]', /^reachable$/);
    // ready, delayed, running, buried, completed: the fifth count of the row.
    await waitForText(page, 'tr[data-type="hash"] td:nth-of-type(5)', /^5$/);
    await waitForText(page, 'tr[data-type="metrics"] td:nth-of-type(5)', /^1$/);
    assert.equal(await page.locator('tr[data-type="hash"] [data-paused]').textContent(), 'no');
    assert.equal((await page.locator('.chart canvas').count()) > 0, true, 'the chart is drawn');

    // Keyboard: the navigation is real links.
    await page.getByRole('link', { name: 'Jobs', exact: true }).focus();
    await page.keyboard.press('Enter');
    await waitFor('the jobs page', () => page.url().endsWith('#/jobs'));
    for (const id of ids) await waitForText(page, `tr[data-job="${id}"]`, /completed/);
    await page.locator(`a[href="#/jobs/${ids[0]}"]`).click();
    await waitForText(page, 'h1', new RegExp(`${ids[0]}.*completed`));
    await waitForText(page, 'main', new RegExp(job.result?.hash ?? 'no hash in the API answer'));
    assert.match(
      (await page.locator('.copy code').textContent()) ?? '',
      new RegExp(`curl -s '${base}/jobs/${ids[0]}'`),
    );

    // Go to a job by its id: a text that is not one is refused on the page, an id (any case,
    // spaces around) opens its page.
    await page.goto(`${base}/ui/#/jobs`);
    const second = ids[1] ?? '';
    await page.getByLabel('Job id').fill('not-a-job-id');
    await page.getByRole('button', { name: 'Go to job' }).click();
    await waitForText(page, 'form[aria-label="Go to a job"] [role="alert"]', /^not a job id/);
    assert.ok(page.url().endsWith('#/jobs'), `a refused id leaves the page where it was: ${page.url()}`);
    await page.getByLabel('Job id').fill(` ${second.toUpperCase()} `);
    await page.getByRole('button', { name: 'Go to job' }).click();
    await waitFor('the page of the job typed in', () => page.url().endsWith(`#/jobs/${second}`));
    await waitForText(page, 'h1', new RegExp(`${second}.*completed`));

    await page.goto(`${base}/ui/#/workers`);
    const workers = await api<{ workers: Array<{ name: string; completed: number }> }>('/workers');
    assert.ok(workers.body.workers.some((w) => w.name === 'dash-w1'));
    // 3 jobs, 2 of the group, its completion job, the metrics sample.
    await waitFor('the worker to have reported its 7 jobs', async () => {
      const answer = await api<{ workers: Array<{ name: string; completed: number }> }>('/workers');
      return answer.body.workers.find((w) => w.name === 'dash-w1')?.completed === 7;
    });
    await waitForText(page, 'tr[data-worker="dash-w1"] td:nth-of-type(6)', /^7$/);
    await waitForText(page, 'section[aria-labelledby="hosts-title"] tbody', /dash-w1/);

    // The group from the list (GET /groups), its progress in its row; then its own page.
    await page.goto(`${base}/ui/#/groups`);
    await waitForText(page, `table.groups tbody tr:first-child[data-group="${group}"]`, /2 of 2 \(done\)/);
    await waitForText(page, `tr[data-group="${group}"]`, /completed\s*2/);
    await page.locator(`tr[data-group="${group}"] a[href="#/groups/${group}"]`).click();
    await waitForText(page, 'label[for="group-progress"]', /2 of 2 finished \(done\)/);
    await waitForText(
      page,
      'section[aria-labelledby="group-results-title"]',
      /color=red[\s\S]*color=blue|color=blue[\s\S]*color=red/,
    );
    // Its completion job (on_complete): linked from the group, and linking back to it.
    await page.locator(`a[href="#/jobs/${completion}"]`).click();
    await waitForText(page, 'h1', new RegExp(`${completion}.*completed`));
    await waitForText(page, 'main', /runs after group/);
    await page.locator(`main a[href="#/groups/${group}"]`).first().waitFor();
    // A member's page names its group and links to it.
    const member = matrix.body.jobs[0]?.id ?? 'no member in the matrix answer';
    await page.goto(`${base}/ui/#/jobs/${member}`);
    await waitForText(page, 'h1', new RegExp(`${member}.*completed`));
    await page.locator(`main a[href="#/groups/${group}"]`).click();
    await waitForText(page, 'label[for="group-progress"]', /2 of 2 finished \(done\)/);
    // Find a group by its id, as a job by its id above.
    await page.goto(`${base}/ui/#/groups`);
    await page.getByLabel('Group id').fill(completion.slice(0, 20));
    await page.getByRole('button', { name: 'Show group' }).click();
    await waitForText(page, 'form[aria-label="Find a group"] [role="alert"]', /^not a group id/);
    await page.getByLabel('Group id').fill(group.toUpperCase());
    await page.getByRole('button', { name: 'Show group' }).click();
    await waitFor('the page of the group typed in', () => page.url().endsWith(`#/groups/${group}`));
    await waitForText(page, 'label[for="group-progress"]', /2 of 2 finished \(done\)/);

    await page.goto(`${base}/ui/#/failed`);
    await waitForText(page, 'section[aria-labelledby="list-title"]', /None on this page/);

    // A phone: the layout holds.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const hash of ['#/', '#/jobs', `#/jobs/${ids[0]}`, '#/workers']) {
      await page.goto(`${base}/ui/${hash}`);
      await page.locator('h1').waitFor();
      await assertFitsWidth(page);
    }
    problems.assertNone();
  });

  it("when a load runs, then the chart's series moves and counts the jobs accepted and completed, per second and in the hour", async () => {
    await startManager();
    startWorker('dash-load');
    const { page, problems } = await openPage('#/');
    const figure = 'figure.throughput';
    await waitFor(
      'the event stream to open',
      async () => (await page.locator(figure).getAttribute('data-stream')) === 'open',
    );
    await waitFor(
      'the first points',
      async () => (await numberAttribute(page, figure, 'data-points')) === 300,
    );
    const read = async () => ({
      last: await numberAttribute(page, figure, 'data-last'),
      accepted: await numberAttribute(page, figure, 'data-accepted'),
      completed: await numberAttribute(page, figure, 'data-completed'),
    });
    const showHour = async (hour: boolean) => {
      await page.getByLabel(hour ? 'Last hour' : 'Last 5 minutes').check();
      await waitFor(
        'the chart to change its window',
        async () => (await page.locator(figure).getAttribute('data-window')) === (hour ? '3600' : '300'),
      );
    };
    await showHour(true);
    assert.equal(await numberAttribute(page, figure, 'data-points'), 60, 'the hour: one point a minute');
    const hourBefore = await read();
    await showHour(false);
    const before = await read();

    const total = 150;
    let posted = 0;
    const load = (async () => {
      // About 15 jobs a second for 10 s: long enough to watch the chart move while it runs.
      while (posted < total) {
        await Promise.all([
          postJob({ load: posted }),
          postJob({ load: posted + 1 }),
          postJob({ load: posted + 2 }),
        ]);
        posted += 3;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const during = await waitFor(
      'the chart to move while the load runs',
      async () => {
        const now = await read();
        return now.last > before.last && now.accepted > before.accepted && now.completed > before.completed
          ? now
          : undefined;
      },
      20_000,
      100,
    );
    assert.ok(posted < total, `read while the load ran (${posted} of ${total} posted)`);
    await load;
    const after = await waitFor(
      'the chart to count every job',
      async () => {
        const now = await read();
        return now.accepted === before.accepted + total && now.completed === before.completed + total
          ? now
          : undefined;
      },
      30_000,
      200,
    );
    assert.ok(after.last > during.last, `the series moved on: ${during.last} → ${after.last}`);
    await showHour(true);
    await waitFor('the hour to count every job', async () => {
      const hour = await read();
      return hour.accepted === hourBefore.accepted + total && hour.completed === hourBefore.completed + total;
    });
    await waitForText(page, 'tr[data-type="hash"] td:nth-of-type(5)', new RegExp(`^${total}$`));
    problems.assertNone();
  });

  it('when pause, resume, cancel and retry are pressed on the pages, then the system changes as the API and beanstalkd show', async () => {
    // `idle`: a type no worker serves, so a job of it stays where the test puts it.
    await startManager({ JOB_TYPES: 'hash,simulate,metrics,idle' });
    startWorker('dash-steer');
    const { page, problems } = await openPage('#/');
    const port = backends().beanstalk.port;

    // Pause hash for an hour from the overview.
    await page.getByLabel('Pause for').selectOption('3600');
    await page.getByRole('button', { name: 'Pause hash' }).click();
    await waitFor('hash to be paused', async () => Number((await hashRow())?.pausedSeconds) > 3500);
    assert.match((await beanstalkRaw(port, `stats-tube ${tubePrefix}hash`)).body ?? '', /^pause: 3600$/m);
    await waitForText(page, 'tr[data-type="hash"] [data-paused]', /^yes, /);

    // A job posted meanwhile waits; cancel it from its page.
    const waiting = await postJob({ cancel: 'me' });
    await page.goto(`${base}/ui/#/jobs/${waiting}`);
    await waitForText(page, 'h1', /queued/);
    await waitForText(page, 'section[aria-labelledby="queue-title"]', /tube/);
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('button', { name: 'Yes' }).click();
    await waitForText(page, 'p[role="status"].ok', /Cancel: done/);
    assert.equal(await jobState(waiting), 'cancelled');
    await waitFor(
      'its copy to leave beanstalkd',
      async () => (await tubeCounts(port, `${tubePrefix}hash`)).current === 0,
    );
    await waitForText(page, 'h1', /cancelled/);

    // A job waiting for its parent (depends_on; the parent stays queued while hash is paused):
    // its page names the parent, linked, with its state; the Jobs page filters on `waiting`.
    const parent = await postJob({ flow: 'parent' });
    const child = await postJob({ flow: 'child' }, `?depends_on=${parent}`);
    await page.goto(`${base}/ui/#/jobs/${child}`);
    await waitForText(page, 'h1', /waiting/);
    await waitForText(page, 'section[aria-labelledby="parents-title"]', new RegExp(`${parent}\\s*queued`));
    const parentLink = page.locator(`section[aria-labelledby="parents-title"] a[href="#/jobs/${parent}"]`);
    assert.equal(await parentLink.count(), 1);
    await page.goto(`${base}/ui/#/jobs`);
    await page.locator('select[name="state"]').selectOption('waiting');
    await page.getByRole('button', { name: 'Filter' }).click();
    await waitForText(page, `tr[data-job="${child}"]`, /waiting/);

    // Resume from the overview.
    await page.goto(`${base}/ui/#/`);
    await page.getByRole('button', { name: 'Resume hash' }).click();
    await waitFor('hash to be resumed', async () => (await hashRow())?.pausedSeconds === 0);
    await waitForText(page, 'tr[data-type="hash"] [data-paused]', /^no$/);

    // Failed jobs: retry one and cancel another from the Failed page.
    const failing = '?type=simulate&fail_rate=1&attempts=1&mean_ms=5';
    const [retryMe, cancelMe] = [await postJob({ f: 1 }, failing), await postJob({ f: 2 }, failing)];
    await waitForState(retryMe, 'failed');
    await waitForState(cancelMe, 'failed');
    // So the retried job stays queued where the test can see it.
    assert.equal((await api('/types/simulate/pause?seconds=600', 'POST')).status, 200);
    await page.goto(`${base}/ui/#/failed`);
    await page.getByRole('button', { name: `Retry ${retryMe}` }).click();
    await waitForText(page, 'p[role="status"].ok', new RegExp(`Retry ${retryMe}: done`));
    assert.equal(await jobState(retryMe), 'queued');
    await waitFor(
      'the retried copy to be ready in beanstalkd',
      async () => (await tubeCounts(port, `${tubePrefix}simulate`)).ready === 1,
    );
    await page.getByRole('button', { name: `Cancel ${cancelMe}` }).click();
    await waitForText(page, 'p[role="status"].ok', new RegExp(`Cancel ${cancelMe}: done`));
    assert.equal(await jobState(cancelMe), 'cancelled');
    await page.getByRole('link', { name: 'Cancelled', exact: true }).click();
    await waitForText(page, `tr[data-job="${cancelMe}"]`, /cancelled/);

    // Every failed job of a type at once: retry-failed, then kick (the other engineer's endpoints).
    assert.equal((await api('/types/simulate/resume', 'POST')).status, 200);
    await waitForState(retryMe, 'failed');
    const more = [await postJob({ f: 3 }, failing), await postJob({ f: 4 }, failing)];
    for (const id of more) await waitForState(id, 'failed');
    assert.equal((await api('/types/simulate/pause?seconds=600', 'POST')).status, 200);
    await page.goto(`${base}/ui/#/failed`);
    await page.getByRole('button', { name: 'Retry all failed simulate' }).click();
    await page.getByRole('button', { name: 'Yes' }).click();
    await waitForText(page, 'section[aria-labelledby="by-type-title"] p[role="status"]', /retried 3\b/);
    for (const id of [retryMe, ...more]) assert.equal(await jobState(id), 'queued', id);

    assert.equal((await api('/types/simulate/resume', 'POST')).status, 200);
    for (const id of [retryMe, ...more]) await waitForState(id, 'failed');
    assert.equal((await api('/types/simulate/pause?seconds=600', 'POST')).status, 200);
    await page.getByRole('button', { name: 'Kick all buried simulate' }).click();
    await page.getByRole('button', { name: 'Yes' }).click();
    await waitForText(
      page,
      'section[aria-labelledby="by-type-title"] p[role="status"]',
      /Kick all buried simulate: done — retried 3\b/,
    );
    for (const id of [retryMe, ...more]) assert.equal(await jobState(id), 'queued', id);
    assert.equal((await tubeCounts(port, `${tubePrefix}simulate`)).buried, 0, 'nothing left buried');

    // A buried job with no outcome (buried by another beanstalkd client): the Buried list shows
    // it with Cancel, and no Retry, which the API refuses for it.
    const buried = await postJob({ b: 1 }, '?type=idle');
    const consumer = createConsumer({
      host: '127.0.0.1',
      port,
      connectTimeoutMs: 2000,
      commandTimeoutMs: 5000,
      tubes: [`${tubePrefix}idle`],
    });
    try {
      const reserved = await consumer.reserve(5);
      assert.ok(reserved, 'the idle job was reserved');
      await consumer.bury(reserved.beanstalkId, 1024);
    } finally {
      await consumer.close();
    }
    await waitForState(buried, 'buried');
    const refused = await api<{ error: { code: string } }>(`/jobs/${buried}/retry`, 'POST');
    assert.deepEqual([refused.status, refused.body.error.code], [409, 'JOB_NOT_RETRYABLE']);
    await page.getByRole('link', { name: 'Buried', exact: true }).click();
    await waitForText(page, `tr[data-job="${buried}"]`, /buried/);
    assert.equal(await page.getByRole('button', { name: `Retry ${buried}` }).count(), 0, 'no Retry');
    await page.getByRole('button', { name: `Cancel ${buried}` }).click();
    // The list's own answer (the by-type table above still shows the kick's).
    await waitForText(
      page,
      'section[aria-labelledby="list-title"] p[role="status"]',
      new RegExp(`Cancel ${buried}: done`),
    );
    assert.equal(await jobState(buried), 'cancelled');
    await waitFor(
      'its buried copy to leave beanstalkd',
      async () => (await tubeCounts(port, `${tubePrefix}idle`)).current === 0,
    );
    await waitForText(page, 'section[aria-labelledby="list-title"]', /None on this page/);
    problems.assertNone();
  });

  it('when a schedule is made through the API, then the Schedules page lists it with its next run, and Pause on the page pauses it', async () => {
    await startManager();
    const made = await api<{ nextRunAt: string }>('/schedules', 'POST', {
      name: 'dash-hourly',
      every_seconds: 3600,
      payload: { from: 'dashboard' },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const { page, problems } = await openPage('#/');
    await page.getByRole('link', { name: 'Schedules', exact: true }).click();
    await waitFor('the schedules page', () => page.url().endsWith('#/schedules'));
    const row = 'tr[data-schedule="dash-hourly"]';
    await waitForText(page, row, /every 3600 s/);
    assert.equal(
      await page.locator(`${row} [data-next] time`).getAttribute('datetime'),
      made.body.nextRunAt,
      'the next run the API answered',
    );
    await waitForText(page, `${row} [data-state]`, /^active$/);
    await page.getByRole('button', { name: 'Pause dash-hourly' }).click();
    await waitForText(page, 'p[role="status"].ok', /Pause dash-hourly: done/);
    await waitForText(page, `${row} [data-state]`, /^paused$/);
    const paused = await api<{ paused: boolean; nextRunAt: string | null }>('/schedules/dash-hourly');
    assert.deepEqual([paused.body.paused, paused.body.nextRunAt], [true, null], 'the API says paused');
    await page.getByRole('button', { name: 'Resume dash-hourly' }).click();
    await waitForText(page, `${row} [data-state]`, /^active$/);
    assert.equal((await api<{ paused: boolean }>('/schedules/dash-hourly')).body.paused, false);
    problems.assertNone();
  });

  it('when the manager has API keys, then the page loads without one, asks for it, says when it is refused, and works with the right one', async () => {
    const key = `ui-${randomBytes(16).toString('hex')}`;
    const manager = await startManager({ API_KEYS: `dashboard:${key}` });
    startWorker('dash-auth');
    const uiPage = await fetch(`${base}/ui/`);
    assert.equal(uiPage.status, 200, 'the page itself needs no key');
    assert.match(uiPage.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal((await fetch(`${base}/stats`)).status, 401, 'the API does');
    apiKey = key;
    const id = await postJob({ secret: 'keyed' });
    await waitForState(id, 'completed');

    const { page, problems } = await openPage(`#/jobs/${id}`);
    await waitForText(page, '.key-form', /asks for an API key/);
    await page.getByRole('textbox', { name: 'API key' }).fill('not-the-key');
    await page.getByRole('button', { name: 'Use this key' }).click();
    await waitForText(page, '.key-form [role="alert"]', /refused this key/);
    await page.getByRole('textbox', { name: 'API key' }).fill(key);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await waitForText(page, 'h1', new RegExp(`${id}.*completed`));
    assert.equal(await page.locator('.key-form').count(), 0, 'the form is gone');
    await waitForText(page, '.key-status', /API key in use/);
    const curl = (await page.locator('.copy code').textContent()) ?? '';
    assert.match(curl, /-H "Authorization: Bearer \$DW_API_KEY"/);
    assert.ok(!curl.includes(key), 'the curl command holds no key');
    assert.ok(!page.url().includes(key), 'the key is in no URL');

    // Another page in the same tab keeps the key (sessionStorage), live data included.
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    await waitForText(page, 'tr[data-type="hash"] td:nth-of-type(5)', /^1$/);
    await waitFor(
      'the event stream to open with the key',
      async () => (await page.locator('figure.throughput').getAttribute('data-stream')) === 'open',
    );
    await page.getByRole('button', { name: 'Forget key' }).click();
    await page.reload();
    await waitForText(page, '.key-form', /asks for an API key/);
    assert.ok(!manager.lines.some((line) => line.includes(key)), 'the key is in no log line');
    problems.assertNone([consoleLineFor(401)]);
  });
});
