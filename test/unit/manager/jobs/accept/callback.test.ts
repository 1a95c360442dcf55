/** `callback_url` at POST time: read like every option, checked before anything is stored. */
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../../../src/errors.js';
import { resolveCallback, type WebhookPolicy } from '../../../../../src/manager/jobs/accept/callback.js';
import { optionSource, parseJobOptions } from '../../../../../src/manager/jobs/accept/options.js';

const DEFAULTS = Object.freeze({ priority: 1024, delay: 0, ttr: 60, maxAttempts: 3 });
const ON: WebhookPolicy = {
  enabled: true,
  allowPrivate: false,
  urls: { simulate: 'https://hooks.example.com/sim' },
};

const refused = (code: ErrorCode) => ({ name: 'AppError', code, status: 400 });

describe('callback_url', () => {
  it('when callback_url comes as a query parameter or X-Job-Callback-Url, then the job request carries it as given', () => {
    const url = 'https://example.com/hook?token=t';
    const fromQuery = parseJobOptions(
      optionSource({ callback_url: url }, () => ''),
      DEFAULTS,
      [],
    );
    assert.equal(fromQuery.callbackUrl, url);
    const fromHeader = parseJobOptions(
      optionSource({}, (name) => (name.toLowerCase() === 'x-job-callback-url' ? url : '')),
      DEFAULTS,
      [],
    );
    assert.equal(fromHeader.callbackUrl, url);
    assert.equal(
      parseJobOptions(
        optionSource({}, () => ''),
        DEFAULTS,
        [],
      ).callbackUrl,
      undefined,
    );
    assert.throws(
      () =>
        parseJobOptions(
          optionSource({ callback_url: url }, (name) => (name === 'X-Job-callback-url' ? `${url}x` : '')),
          DEFAULTS,
          [],
        ),
      refused(ErrorCode.INVALID_OPTION),
    );
  });

  it('when a callback URL is public, then it is kept as parsed; when it is hostile, then 400 INVALID_CALLBACK_URL', () => {
    assert.equal(resolveCallback('hash', 'https://Example.com:443/h?a=1', ON), 'https://example.com/h?a=1');
    for (const bad of [
      'http://127.0.0.1/',
      'http://2130706433/',
      'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/',
      'http://localhost:8080/',
      'ftp://example.com/',
      'https://u:p@example.com/',
      '',
      `https://example.com/${'a'.repeat(2100)}`,
    ])
      assert.throws(() => resolveCallback('hash', bad, ON), refused(ErrorCode.INVALID_CALLBACK_URL), bad);
  });

  it('when WEBHOOK_ALLOW_PRIVATE is on, then a loopback URL is accepted, and never another scheme', () => {
    const open = { ...ON, allowPrivate: true };
    assert.equal(resolveCallback('hash', 'http://127.0.0.1:9/x', open), 'http://127.0.0.1:9/x');
    assert.throws(
      () => resolveCallback('hash', 'file:///etc/passwd', open),
      refused(ErrorCode.INVALID_CALLBACK_URL),
    );
  });

  it('when the manager has no WEBHOOK_SECRET, then callback_url is 400 WEBHOOKS_DISABLED and a job without one has none', () => {
    assert.throws(
      () => resolveCallback('hash', 'https://example.com/'),
      refused(ErrorCode.WEBHOOKS_DISABLED),
    );
    assert.throws(
      () => resolveCallback('hash', 'https://example.com/', { ...ON, enabled: false }),
      refused(ErrorCode.WEBHOOKS_DISABLED),
    );
    assert.equal(resolveCallback('hash', undefined), undefined);
  });

  it("when a job comes without callback_url, then its type's WEBHOOK_URLS default applies, and a given one wins", () => {
    assert.equal(resolveCallback('simulate', undefined, ON), 'https://hooks.example.com/sim');
    assert.equal(resolveCallback('hash', undefined, ON), undefined);
    assert.equal(resolveCallback('simulate', 'https://other.example.com/', ON), 'https://other.example.com/');
  });
});
