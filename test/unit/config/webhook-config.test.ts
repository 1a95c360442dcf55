/** The webhook settings, validated at start with every other setting. */
import assert from 'node:assert/strict';
import { ConfigError, loadManagerConfig, loadWorkerConfig } from '../../../src/config/config.js';

const SECRET = 'a-webhook-secret-of-32-characters';
const problemsOf = (load: () => unknown): readonly string[] => {
  try {
    load();
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('webhook settings', () => {
  it('when nothing is set, then webhooks are off on the manager, and a worker would deliver 4 at once with a day of retries', () => {
    assert.deepEqual(loadManagerConfig({}).webhooks, { enabled: false, allowPrivate: false, urls: {} });
    assert.deepEqual(loadWorkerConfig({}).webhooks, {
      secret: '',
      allowPrivate: false,
      concurrency: 4,
      connectTimeoutMs: 5000,
      responseTimeoutMs: 10_000,
      maxAttempts: 36,
      retryBaseMs: 1000,
      retryCapMs: 3_600_000,
    });
  });

  it('when WEBHOOK_SECRET and WEBHOOK_URLS are set, then the manager takes callbacks and each type its default URL', () => {
    const config = loadManagerConfig({
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_URLS: 'hash=https://hooks.example.com/h?k=1, simulate=https://hooks.example.com/s',
    });
    assert.equal(config.webhooks.enabled, true);
    assert.deepEqual(config.webhooks.urls, {
      hash: 'https://hooks.example.com/h?k=1',
      simulate: 'https://hooks.example.com/s',
    });
    assert.ok(!JSON.stringify(config).includes(SECRET), 'the manager keeps no copy of the secret');
  });

  it('when the secret comes from WEBHOOK_SECRET_FILE, then its final newline is dropped', () => {
    const config = loadWorkerConfig({ WEBHOOK_SECRET_FILE: '/run/secrets/webhook_secret' }, (path) => {
      assert.equal(path, '/run/secrets/webhook_secret');
      return `${SECRET}\n`;
    });
    assert.equal(config.webhooks.secret, SECRET);
  });

  it('when webhook settings are bad, then every problem is reported at once and no secret is echoed', () => {
    const short = 'short-secret';
    const problems = problemsOf(() =>
      loadManagerConfig({
        WEBHOOK_SECRET: short,
        WEBHOOK_URLS: 'hash=http://127.0.0.1/x,Bad=https://example.com,simulate=ftp://example.com/?token=zzz',
        WEBHOOK_ALLOW_PRIVATE: 'perhaps',
      }),
    );
    const text = problems.join('\n');
    assert.match(text, /WEBHOOK_SECRET must be at least 16 characters/);
    assert.match(text, /WEBHOOK_URLS: "Bad=https:\/\/example.com" is not type=URL/);
    assert.match(text, /WEBHOOK_URLS for hash .*loopback/);
    assert.match(text, /WEBHOOK_URLS for simulate .*http or https/);
    assert.match(text, /WEBHOOK_ALLOW_PRIVATE must be true or false/);
    assert.ok(!text.includes(short), 'the secret is not echoed');
    assert.ok(!text.includes('zzz'), "a URL's query is not echoed");
  });

  it('when WEBHOOK_URLS is set without a secret, or the secret twice, or its file is unreadable, then the process does not start', () => {
    assert.match(
      problemsOf(() => loadManagerConfig({ WEBHOOK_URLS: 'hash=https://example.com/' })).join('\n'),
      /WEBHOOK_URLS needs WEBHOOK_SECRET/,
    );
    assert.match(
      problemsOf(() =>
        loadWorkerConfig({ WEBHOOK_SECRET: SECRET, WEBHOOK_SECRET_FILE: '/x' }, () => SECRET),
      ).join('\n'),
      /both set/,
    );
    assert.match(
      problemsOf(() =>
        loadWorkerConfig({ WEBHOOK_SECRET_FILE: '/nope' }, () => {
          throw new Error('ENOENT');
        }),
      ).join('\n'),
      /WEBHOOK_SECRET_FILE "\/nope" cannot be read/,
    );
    assert.match(
      problemsOf(() => loadWorkerConfig({ WEBHOOK_CONCURRENCY: '65' })).join('\n'),
      /WEBHOOK_CONCURRENCY must be an integer from 0 to 64/,
    );
  });
});
