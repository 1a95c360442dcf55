/** The manager's settings: HTTP, job defaults, the reconciler, accepting, batches, security. */
import { JOB_TYPE } from '../handlers/index.js';
import { bool, declareSettings, group, int, list, secret, text } from './setting-kinds.js';
import { HOST } from './shared-settings.js';

export const MANAGER_SETTINGS = declareSettings(['manager'], {
  ...group('manager: HTTP', {
    MANAGER_LISTEN_HOST: text({
      flag: 'host',
      default: '0.0.0.0',
      ...HOST,
      description: 'address the manager listens on',
    }),
    MANAGER_LISTEN_PORT: int({
      flag: 'port',
      default: 8080,
      min: 0,
      max: 65_535,
      description: 'port the manager listens on (0: any free port)',
    }),
    MAX_JSON_DEPTH: int({
      flag: 'max-json-depth',
      default: 64,
      min: 1,
      max: 1000,
      description: 'deepest nesting accepted in a job payload',
    }),
    ACCEPT_ANY_PATH: bool({
      flag: 'accept-any-path',
      default: true,
      description:
        "a POST to any path outside the API's own (`/jobs…`, `/groups…`, `/types…`, `/schedules…`, `/workers`, `/stats`, `/metrics`, `/healthz`, `/readyz`, `/openapi.json`, in any case) is a job, as in the original system; `false`: only `POST /` and `/jobs`",
    }),
    ALLOW_PROTOTYPE_KEYS: bool({
      flag: 'allow-prototype-keys',
      default: false,
      description:
        'accept payloads with a `__proto__` key, or a `constructor` key holding a `prototype` key; `false`: `400 FORBIDDEN_KEY`',
    }),
    BODY_TIMEOUT_MS: int({
      flag: 'body-timeout-ms',
      default: 10_000,
      min: 100,
      max: 600_000,
      description:
        'request headers, then the body, must each arrive within this, and a whole request within 3 times it, else 408',
    }),
    MANAGER_MAX_CONNECTIONS: int({
      flag: 'max-connections',
      default: 1024,
      min: 1,
      max: 1_000_000,
      description: 'connections open at once; one more is closed as soon as it is accepted',
    }),
    WORKER_GONE_AFTER_MS: int({
      flag: 'worker-gone-after-ms',
      default: 15_000,
      min: 100,
      max: 86_400_000,
      description:
        '`GET /workers` and `/metrics` leave out a worker whose last heartbeat is older than this, in ms',
    }),
  }),
  ...group('manager: jobs', {
    JOB_TYPES: list({
      flag: 'job-types',
      default: [],
      item: JOB_TYPE,
      itemRule: 'is not a job type',
      description:
        'job types this manager accepts, comma separated (add your `--handlers` types here); empty: the built-in `hash`, `simulate`, `metrics`, `summary`',
    }),
    JOB_TTR_SECONDS: int({
      flag: 'job-ttr',
      default: 60,
      min: 1,
      max: 86_400,
      description: 'seconds a worker may hold a job before beanstalkd hands it to another',
    }),
    JOB_MAX_ATTEMPTS: int({
      flag: 'max-attempts',
      default: 3,
      min: 1,
      max: 1000,
      description:
        'deliveries of a job before a failing one (or one whose workers keep dying with it) is buried with a failed outcome',
    }),
    MAX_WAITERS: int({
      flag: 'max-waiters',
      default: 10_000,
      min: 1,
      max: 1_000_000,
      description:
        'most `GET /jobs/<id>?wait=` requests waiting at once on one manager; one more answers 503 TOO_MANY_WAITERS',
    }),
    MAX_EVENT_STREAMS: int({
      flag: 'max-event-streams',
      default: 1_000,
      min: 1,
      max: 1_000_000,
      description:
        'most `GET /events` streams open at once on one manager; one more answers 503 TOO_MANY_STREAMS (each also holds one of MANAGER_MAX_CONNECTIONS)',
    }),
    EVENT_WINDOW: int({
      flag: 'event-window',
      default: 10_000,
      min: 1,
      max: 1_000_000,
      description:
        'events a manager keeps for clients that reconnect with `Last-Event-ID`; one that missed more is sent a `reset` event',
    }),
    EVENT_RESUME_MS: int({
      flag: 'event-resume-ms',
      default: 60_000,
      min: 0,
      max: 3_600_000,
      description:
        'after its last event stream closes, a manager keeps following events this long, so a client reconnecting within it misses nothing',
    }),
    EVENT_HEARTBEAT_MS: int({
      flag: 'event-heartbeat-ms',
      default: 15_000,
      min: 100,
      max: 300_000,
      description: 'a comment line on every idle event stream this often, so proxies keep it open',
    }),
    EVENT_STREAM_BUFFER_BYTES: int({
      flag: 'event-stream-buffer-bytes',
      default: 1_048_576,
      min: 1_024,
      max: 1_073_741_824,
      description:
        'an event stream whose unsent bytes stay above this for 5 s, or pass 8 times it, is closed (its client reconnects with `Last-Event-ID`)',
    }),
    BATCH_MAX_ITEMS: int({
      flag: 'batch-max-items',
      default: 10_000,
      min: 1,
      max: 1_000_000,
      description: 'most jobs in one `POST /jobs/batch`',
    }),
    BATCH_MAX_BYTES: int({
      flag: 'batch-max-bytes',
      default: 32 * 1024 * 1024,
      min: 1024,
      max: 1_073_741_824,
      description: 'largest `POST /jobs/batch` body, in bytes',
    }),
    IDEMPOTENCY_TTL_SECONDS: int({
      flag: 'idempotency-ttl',
      default: 86_400,
      min: 1,
      max: 31_536_000,
      description:
        'how long an `Idempotency-Key` keeps returning the first job (it also bounds how late a missed schedule tick may still be enqueued)',
    }),
    SCHEDULER_INTERVAL_MS: int({
      flag: 'scheduler-interval-ms',
      default: 500,
      min: 0,
      max: 60_000,
      description:
        'how often this manager looks for schedule ticks that are due, in ms (every manager does; each tick still gets one job); 0: this manager enqueues no ticks',
    }),
  }),
  ...group('manager: failures and recovery', {
    RECONCILE_INTERVAL_SECONDS: int({
      flag: 'reconcile-interval',
      default: 10,
      min: 0,
      max: 86_400,
      description:
        'seconds between maintenance passes: re-queue jobs whose beanstalkd copy was lost, settle the job log, remove expired jobs, build its type directory (0: off)',
    }),
    RECONCILE_GRACE_SECONDS: int({
      flag: 'reconcile-grace',
      default: 15,
      min: 1,
      max: 86_400,
      description: 'age a job must reach before the reconciler may judge its queue copy lost',
    }),
    BEANSTALK_SERVER_GONE_SECONDS: int({
      flag: 'beanstalk-server-gone',
      default: 60,
      min: 1,
      max: 86_400,
      description:
        'with several BEANSTALK_SERVERS: how long a server may fail to answer before it counts as gone and the reconciler puts its unfinished jobs on the others',
    }),
    ACCEPT_HOLD_SECONDS: int({
      flag: 'accept-hold',
      default: 0,
      min: 0,
      max: 86_400,
      description:
        'put a job that runs now on hold this long, record it with its location, then kick it (0: record first, then put); else at least twice `MONGO_TIMEOUT_MS` plus the insert retries',
    }),
    RETENTION_COMPLETED_SECONDS: int({
      flag: 'retention-completed',
      default: 604_800,
      min: 0,
      max: 315_360_000,
      description:
        'age after which completed and cancelled jobs are removed (0: keep forever; failed jobs are kept)',
    }),
  }),
  ...group('manager: security', {
    API_KEYS_FILE: text({
      flag: 'api-keys-file',
      default: '',
      description:
        'file with one `name:key` per line (a Docker secret such as `/run/secrets/api_keys`); a file with no key (empty or only `#` comments) stops the manager at start',
    }),
    API_KEYS: secret({
      flag: 'api-keys',
      default: '',
      description:
        'API keys as `name:key` pairs, comma or newline separated (prefer `API_KEYS_FILE`); unset: no auth; set but holding no key: the manager refuses to start',
    }),
    AUTH_READS: bool({
      flag: 'auth-reads',
      default: true,
      description: 'with keys set, whether `GET /jobs/...` needs a key too',
    }),
    AUTH_OPS: bool({
      flag: 'auth-ops',
      default: false,
      description:
        'with keys set, whether `/healthz`, `/readyz` and `/metrics` need a key, however spelled (`/METRICS`, `/readyz/`)',
    }),
    RATE_LIMIT_PER_MINUTE: int({
      flag: 'rate-limit',
      default: 0,
      min: 0,
      max: 10_000_000,
      description: 'requests per minute per API key (or per client address without keys); 0: off',
    }),
    CORS_ORIGINS: list({
      flag: 'cors-origins',
      default: [],
      item: /^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)$/,
      itemRule: 'is not * or scheme://host[:port]',
      description: 'origins browsers may call from, comma separated, or `*`; empty: CORS off',
    }),
    TRUST_PROXY: bool({
      flag: 'trust-proxy',
      default: false,
      description: 'take the client address from `X-Forwarded-For` (only behind a proxy you run)',
    }),
  }),
});
