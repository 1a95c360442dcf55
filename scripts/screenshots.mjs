#!/usr/bin/env node
// npm run screenshots: runs the local stack (`up`, built in dist/), gives it real work — a load,
// a matrix group, failing jobs, a long job, host samples — and saves a screenshot of each
// dashboard page into assets/ with headless Chromium (installed when missing, as the tests do).
// Stops the stack with Ctrl-C's signal at the end, whatever happened.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const assets = join(root, 'assets');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const chromiumPath = execFileSync('bash', [join(root, 'scripts', 'install-chromium.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
})
  .trim()
  .split('\n')
  .at(-1);

const stack = spawn(
  process.execPath,
  [
    join(root, 'dist', 'index.js'),
    'up',
    '--port',
    '0',
    '--jobs',
    '0',
    '--workers',
    '2',
    '--no-mongo-express',
  ],
  {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, WORKER_WORK_DELAY_MS: '20-300', LOG_LEVEL: 'warn', WORKER_HEARTBEAT_MS: '1000' },
  },
);
const stopped = once(stack, 'exit');
let output = '';
stack.stdout.on('data', (chunk) => {
  output += chunk.toString();
});

async function waitFor(what, check, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function main() {
  const dashboard = await waitFor('the stack to start', () =>
    output.includes('Running until Ctrl-C.') ? /dashboard\s+(\S+)/.exec(output)?.[1] : undefined,
  );
  const base = dashboard.replace(/ui\/$/, '');
  const post = async (path, body) => {
    const res = await fetch(`${base}${path.replace(/^\//, '')}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const job = async (id) => (await fetch(`${base}jobs/${id}`)).json();

  const group = (
    await post('/jobs/matrix', {
      template: { suite: 'smoke' },
      axes: { browser: ['chromium', 'firefox', 'webkit'], os: ['linux', 'macos'] },
    })
  ).group;
  const failed = [];
  for (let i = 0; i < 3; i += 1)
    failed.push(
      (await post('/jobs?type=simulate&fail_rate=1&attempts=2&mean_ms=50', { task: `flaky-${i}` })).id,
    );
  await post('/jobs?type=metrics', {});
  await post('/jobs?type=metrics', {});
  const long = (await post('/jobs?type=simulate&mean_ms=600000&ttr=900', { task: 'long report' })).id;
  await post('/jobs?delay=600', { task: 'later' });

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('console', (message) => {
      if (message.type() === 'error') console.error(`page console: ${message.text()}`);
    });
    await page.goto(dashboard);
    // A load while the overview is open: the chart shows it accepted, completed and failing.
    const until = Date.now() + 25_000;
    let n = 0;
    while (Date.now() < until) {
      await Promise.all([
        post('/jobs', { load: n }),
        post('/jobs', { load: n + 1 }),
        post('/jobs?type=simulate&fail_rate=0.15&attempts=1&mean_ms=100', { load: n + 2 }),
      ]);
      n += 3;
      await sleep(150 + 100 * Math.sin(n / 20));
    }
    await waitFor('the failing jobs to fail', async () => {
      const states = await Promise.all(failed.map(async (id) => (await job(id)).state));
      return states.every((state) => state === 'failed');
    });
    await sleep(2500);
    const shoot = async (hash, name, ready) => {
      await page.goto(`${dashboard}${hash}`);
      await page.locator(ready).first().waitFor();
      await sleep(1500);
      await page.screenshot({ path: join(assets, `dashboard-${name}.png`), fullPage: false });
      console.log(`assets/dashboard-${name}.png`);
    };
    await page.screenshot({ path: join(assets, 'dashboard-overview.png'), fullPage: true });
    console.log('assets/dashboard-overview.png');
    await shoot('#/jobs', 'jobs', 'table.jobs tbody tr');
    await shoot(`#/jobs/${failed[0]}`, 'job-failed', 'section[aria-labelledby="attempts-title"]');
    await shoot(`#/jobs/${long}`, 'job-running', 'section[aria-labelledby="queue-title"]');
    await shoot('#/failed', 'failed', 'table.jobs tbody tr');
    await shoot('#/workers', 'workers', 'section[aria-labelledby="hosts-title"] tbody tr');
    await shoot(`#/groups/${group}`, 'group', 'label[for="group-progress"]');
    await page.setViewportSize({ width: 390, height: 844 });
    await shoot('#/', 'phone', 'tr[data-type="hash"]');
  } finally {
    await browser.close();
  }
}

try {
  await main();
} finally {
  // Ctrl-C's signal to the stack's process group: it stops workers, manager and servers in order.
  if (stack.exitCode === null) process.kill(-stack.pid, 'SIGINT');
  await stopped;
}
