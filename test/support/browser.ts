/**
 * A real browser for the dashboard's tests: Debian's Chromium (installed once per machine by
 * scripts/install-chromium.sh, with apt-get as the backends are), driven by playwright-core
 * (docs/facts.md: `npx playwright install` cannot download a browser here). A page is watched
 * for console errors, uncaught exceptions and Content-Security-Policy violations: a test fails
 * on any it did not expect.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { projectRoot } from './harness.js';

const run = promisify(execFile);

let installing: Promise<string> | undefined;

/** The Chromium binary, installed first when missing (once per test run). */
export function chromiumPath(): Promise<string> {
  installing ??= (async () => {
    try {
      const { stdout, stderr } = await run('bash', [join(projectRoot, 'scripts', 'install-chromium.sh')], {
        maxBuffer: 1024 * 1024,
      });
      if (stderr.trim() !== '') process.stderr.write(stderr);
      const path = stdout.trim().split('\n').at(-1) ?? '';
      if (path === '') throw new Error('scripts/install-chromium.sh printed no path');
      return path;
    } catch (error: unknown) {
      const stderr = (error as { stderr?: unknown }).stderr;
      throw new Error(
        `Chromium is needed for the dashboard's tests and could not be installed: ${
          typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : String(error)
        }`,
      );
    }
  })();
  return installing;
}

/** Headless Chromium with the flags that work here (docs/facts.md, "Headless Chromium"). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: await chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface PageProblems {
  /** Console errors, uncaught exceptions and CSP violations seen so far. */
  readonly seen: string[];
  /**
   * Fails unless every problem seen matches one of `expected` (e.g. the console line Chromium
   * writes for an answered 401, in a test that sends no key on purpose).
   */
  assertNone(expected?: readonly RegExp[]): void;
}

/** Starts recording what goes wrong on `page` (call before its first navigation). */
export async function watchPage(page: Page): Promise<PageProblems> {
  const seen: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') seen.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => seen.push(`uncaught: ${error.message}`));
  // Chromium also logs violations as console errors; the event is the sure way to see them.
  await page.exposeBinding('__reportCspViolation', (_source, text: string) => {
    seen.push(`CSP violation: ${text}`);
  });
  // A string: this file is compiled without the DOM's types, the script runs in the page.
  await page.addInitScript(`
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__reportCspViolation(
        event.effectiveDirective + ' blocked ' + (event.blockedURI || 'inline') + ' at ' + event.sourceFile,
      );
    });
  `);
  return {
    seen,
    assertNone(expected = []) {
      const unexpected = seen.filter((problem) => !expected.some((pattern) => pattern.test(problem)));
      assert.deepEqual(unexpected, [], 'the page had no console error, exception or CSP violation');
    },
  };
}

/** The text of the first element matching `selector`'s attribute, as a number. */
export async function numberAttribute(page: Page, selector: string, name: string): Promise<number> {
  const value = await page.locator(selector).first().getAttribute(name);
  return Number(value);
}
