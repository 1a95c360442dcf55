/** The webhook settings, by the roles that read them (docs/completion-design.md, "Webhooks"). */
import { JOB_TYPE } from '../handlers/index.js';
import { bool, declareSettings, group, int, list, secret, text } from './setting-kinds.js';

const GROUP = 'webhooks: a POST to the callback URL when a job ends';

/** Both roles: the manager checks callback URLs at POST time, workers again when they deliver. */
export const SHARED_WEBHOOK_SETTINGS = declareSettings(['manager', 'worker'], {
  ...group(GROUP, {
    WEBHOOK_SECRET: secret({
      flag: 'webhook-secret',
      default: '',
      description:
        'key of the HMAC-SHA256 signature on every webhook (`X-DW-Signature`), at least 16 characters, the same on managers and workers (prefer `WEBHOOK_SECRET_FILE`); unset: managers refuse `callback_url` (400 WEBHOOKS_DISABLED) and workers deliver none',
    }),
    WEBHOOK_SECRET_FILE: text({
      flag: 'webhook-secret-file',
      default: '',
      description:
        'file holding `WEBHOOK_SECRET` (a Docker secret such as `/run/secrets/webhook_secret`; a final newline is dropped)',
    }),
    WEBHOOK_ALLOW_PRIVATE: bool({
      flag: 'webhook-allow-private',
      default: false,
      description:
        'let callback URLs reach loopback, private, link-local and other non-public addresses (tests, private networks); `false`: 400 INVALID_CALLBACK_URL at POST time, refused again at delivery',
    }),
  }),
});

export const MANAGER_WEBHOOK_SETTINGS = declareSettings(['manager'], {
  ...group(GROUP, {
    WEBHOOK_URLS: list({
      flag: 'webhook-urls',
      default: [],
      item: new RegExp(`^${JOB_TYPE.source.slice(1, -1)}=\\S+$`),
      itemRule: 'is not type=URL',
      description:
        'a callback URL per job type for jobs posted without `callback_url`, as `type=URL` pairs, comma separated (URLs without commas); needs `WEBHOOK_SECRET`',
    }),
  }),
});

export const WORKER_WEBHOOK_SETTINGS = declareSettings(['worker'], {
  ...group(GROUP, {
    WEBHOOK_CONCURRENCY: int({
      flag: 'webhook-concurrency',
      default: 4,
      min: 0,
      max: 64,
      description:
        'webhooks a worker process delivers at once (one beanstalkd connection each); 0: this worker delivers none',
    }),
    WEBHOOK_CONNECT_TIMEOUT_MS: int({
      flag: 'webhook-connect-timeout-ms',
      default: 5000,
      min: 100,
      max: 60_000,
      description:
        'a delivery fails (`connect_timeout`) when the receiver has not accepted the connection within this',
    }),
    WEBHOOK_TIMEOUT_MS: int({
      flag: 'webhook-timeout-ms',
      default: 10_000,
      min: 100,
      max: 300_000,
      description:
        'a delivery fails (`timeout`) when the receiver has not answered (status and up to 64 KiB of body) within this, once connected',
    }),
    WEBHOOK_MAX_ATTEMPTS: int({
      flag: 'webhook-max-attempts',
      default: 36,
      min: 1,
      max: 1000,
      description:
        'attempts before a delivery is buried as given up (the default backoff spreads 36 over about 24 hours)',
    }),
    WEBHOOK_RETRY_BASE_MS: int({
      flag: 'webhook-retry-base-ms',
      default: 1000,
      min: 0,
      max: 3_600_000,
      description:
        'wait after the first failed delivery attempt; doubles each attempt (rounded up to seconds)',
    }),
    WEBHOOK_RETRY_CAP_MS: int({
      flag: 'webhook-retry-cap-ms',
      default: 3_600_000,
      min: 0,
      max: 86_400_000,
      description: 'longest wait between delivery attempts',
    }),
  }),
});
