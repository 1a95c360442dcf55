/** What both roles read: where beanstalkd and MongoDB are, the tube prefix, logging. */
import { LOG_LEVELS } from '../log.js';
import { bool, choice, declareSettings, group, int, list, secret, text } from './setting-kinds.js';

/** A host name, an IPv4 address or an IPv6 one (bracketed or not). */
export const HOST = { pattern: /^[A-Za-z0-9.\-_:[\]]{1,253}$/, rule: 'must be a host name or address' };

export const SHARED_SETTINGS = declareSettings(['manager', 'worker'], {
  ...group('beanstalkd (the original names keep working)', {
    BEANSTALK_HOST: text({
      flag: 'beanstalk-host',
      default: '127.0.0.1',
      ...HOST,
      description: 'beanstalkd host',
    }),
    BEANSTALK_PORT: int({
      flag: 'beanstalk-port',
      default: 11300,
      min: 1,
      max: 65_535,
      description: 'beanstalkd port',
    }),
    BEANSTALK_SERVERS: list({
      flag: 'beanstalk-servers',
      default: [],
      item: /^[A-Za-z0-9.\-_]{1,253}:\d{1,5}$|^\[[0-9A-Fa-f:.]{2,45}\]:\d{1,5}$/,
      itemRule: 'is not host:port (an IPv6 address in brackets)',
      description:
        "several beanstalkd servers, `host:port` comma separated, the same list in the same order for every manager and worker: puts are spread over them, workers reserve from all of them, the first holds the limits' tokens; empty: the one at BEANSTALK_HOST:BEANSTALK_PORT",
    }),
    BEANSTALK_TIMEOUT_MS: int({
      flag: 'beanstalk-timeout-ms',
      default: 2000,
      min: 100,
      max: 60_000,
      description: 'connect and command timeout for beanstalkd, in ms',
    }),
    QUEUE_TUBE_PREFIX: text({
      flag: 'tube-prefix',
      default: '',
      pattern: /^([A-Za-z0-9+/;.$_()][A-Za-z0-9\-+/;.$_()]{0,150})?$/,
      rule: 'may hold letters, digits and - + / ; . $ _ ( ), not start with -, at most 150',
      description: 'prefix of every beanstalkd tube name (a tube per job type)',
    }),
  }),
  ...group('MongoDB: credentials go here or in the environment, never in the repository', {
    MONGO_URL: secret({
      flag: 'mongo-url',
      default: 'mongodb://127.0.0.1:27017',
      description: 'MongoDB connection string (credentials are never logged)',
    }),
    MONGO_DB: text({
      flag: 'mongo-db',
      default: '',
      pattern: /^([A-Za-z0-9_-]{1,63})?$/,
      rule: 'must be 1-63 letters, digits, _ or -',
      description: 'database name (default: the one in `MONGO_URL`, else `distributed_workers`)',
    }),
    MONGO_TIMEOUT_MS: int({
      flag: 'mongo-timeout-ms',
      default: 3000,
      min: 100,
      max: 60_000,
      description: 'bound on one MongoDB operation, in ms',
    }),
  }),
  ...group('logs', {
    LOG_LEVEL: choice({
      flag: 'log-level',
      default: 'info',
      choices: LOG_LEVELS,
      description: 'how much is logged',
    }),
    LOG_PRETTY: bool({
      flag: 'pretty',
      default: false,
      description: 'readable, coloured log lines for a terminal (pino-pretty) instead of JSON',
    }),
  }),
});
