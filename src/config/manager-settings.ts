/** The manager's settings: HTTP, job defaults, the reconciler, accepting, batches, security. */
import type { Setting } from './settings.js';

export const MANAGER_SETTINGS: readonly Setting[] = [
  {
    env: 'MANAGER_LISTEN_HOST',
    flag: 'host',
    default: '0.0.0.0',
    description: 'address the manager listens on',
    roles: ['manager'],
  },
  {
    env: 'MANAGER_LISTEN_PORT',
    flag: 'port',
    default: '8080',
    description: 'port the manager listens on (0: any free port)',
    roles: ['manager'],
  },
  {
    env: 'MAX_JSON_DEPTH',
    flag: 'max-json-depth',
    default: '64',
    description: 'deepest nesting accepted in a job payload',
    roles: ['manager'],
  },
  {
    env: 'ACCEPT_ANY_PATH',
    flag: 'accept-any-path',
    default: 'true',
    description:
      "a POST to any path outside the API's own (/jobs..., /groups..., /types..., /workers, /stats, /metrics, /healthz, /readyz, /openapi.json, in any case) is a job, as in the original system; false: only POST / and /jobs (true or false)",
    roles: ['manager'],
  },
  {
    env: 'ALLOW_PROTOTYPE_KEYS',
    flag: 'allow-prototype-keys',
    default: 'false',
    description:
      'accept payloads with a __proto__ key, or a constructor key holding a prototype key; false: 400 FORBIDDEN_KEY (true or false)',
    roles: ['manager'],
  },
  {
    env: 'JOB_TTR_SECONDS',
    flag: 'job-ttr',
    default: '60',
    description: 'seconds a worker may hold a job before beanstalkd hands it to another',
    roles: ['manager'],
  },
  {
    env: 'WORKER_GONE_AFTER_MS',
    flag: 'worker-gone-after-ms',
    default: '15000',
    description:
      'GET /workers and /metrics leave out a worker whose last heartbeat is older than this, in ms',
    roles: ['manager'],
  },
  {
    env: 'JOB_MAX_ATTEMPTS',
    flag: 'max-attempts',
    default: '3',
    description: 'deliveries of a job before a failing one is buried with a failed outcome',
    roles: ['manager'],
  },
  {
    env: 'RECONCILE_INTERVAL_SECONDS',
    flag: 'reconcile-interval',
    default: '10',
    description: 'seconds between passes that re-queue jobs whose beanstalkd copy was lost (0: off)',
    roles: ['manager'],
  },
  {
    env: 'RECONCILE_GRACE_SECONDS',
    flag: 'reconcile-grace',
    default: '15',
    description: 'age a job must reach before the reconciler may judge its queue copy lost',
    roles: ['manager'],
  },
  {
    env: 'ACCEPT_HOLD_SECONDS',
    flag: 'accept-hold',
    default: '0',
    description:
      'put a job that runs now on hold this long, record it with its location, then kick it (0: record first, then put)',
    roles: ['manager'],
  },
  {
    env: 'IDEMPOTENCY_TTL_SECONDS',
    flag: 'idempotency-ttl',
    default: '86400',
    description: 'how long an Idempotency-Key keeps returning the first job',
    roles: ['manager'],
  },
  {
    env: 'RETENTION_COMPLETED_SECONDS',
    flag: 'retention-completed',
    default: '604800',
    description:
      'age after which completed and cancelled jobs are removed (0: keep forever; failed jobs are kept)',
    roles: ['manager'],
  },
  {
    env: 'JOB_TYPES',
    flag: 'job-types',
    default: '',
    description:
      'job types this manager accepts, comma separated (add your --handlers types here); empty: the built-in hash, simulate, metrics',
    roles: ['manager'],
  },
  {
    env: 'BATCH_MAX_ITEMS',
    flag: 'batch-max-items',
    default: '10000',
    description: 'most jobs in one POST /jobs/batch',
    roles: ['manager'],
  },
  {
    env: 'BATCH_MAX_BYTES',
    flag: 'batch-max-bytes',
    default: '33554432',
    description: 'largest POST /jobs/batch body, in bytes',
    roles: ['manager'],
  },
  {
    env: 'API_KEYS',
    flag: 'api-keys',
    default: '',
    description:
      'API keys as name:key pairs, comma or newline separated (prefer API_KEYS_FILE); unset: no auth; set but holding no key: the manager refuses to start',
    roles: ['manager'],
  },
  {
    env: 'API_KEYS_FILE',
    flag: 'api-keys-file',
    default: '',
    description:
      'file with one name:key per line (a Docker secret such as /run/secrets/api_keys); a file with no key (empty or only # comments) stops the manager at start',
    roles: ['manager'],
  },
  {
    env: 'AUTH_READS',
    flag: 'auth-reads',
    default: 'true',
    description: 'with keys set, whether GET /jobs/... needs a key too (true or false)',
    roles: ['manager'],
  },
  {
    env: 'AUTH_OPS',
    flag: 'auth-ops',
    default: 'false',
    description:
      'with keys set, whether /healthz, /readyz and /metrics need a key, however spelled (/METRICS, /readyz/) (true or false)',
    roles: ['manager'],
  },
  {
    env: 'RATE_LIMIT_PER_MINUTE',
    flag: 'rate-limit',
    default: '0',
    description: 'requests per minute per API key (or per client address without keys); 0: off',
    roles: ['manager'],
  },
  {
    env: 'CORS_ORIGINS',
    flag: 'cors-origins',
    default: '',
    description: 'origins browsers may call from, comma separated, or *; empty: CORS off',
    roles: ['manager'],
  },
  {
    env: 'BODY_TIMEOUT_MS',
    flag: 'body-timeout-ms',
    default: '10000',
    description:
      'request headers, then the body, must each arrive within this, and a whole request within 3 times it, else 408',
    roles: ['manager'],
  },
  {
    env: 'MANAGER_MAX_CONNECTIONS',
    flag: 'max-connections',
    default: '1024',
    description: 'connections open at once; one more is closed as soon as it is accepted',
    roles: ['manager'],
  },
  {
    env: 'TRUST_PROXY',
    flag: 'trust-proxy',
    default: 'false',
    description: 'take the client address from X-Forwarded-For (only behind a proxy you run)',
    roles: ['manager'],
  },
];
