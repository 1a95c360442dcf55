/** Every setting: its environment variable, flag, default and meaning (README's table and --help come from here). */

import { LOG_LEVELS } from '../log.js';
import { MANAGER_SETTINGS } from './manager-settings.js';
import { WORKER_SETTINGS } from './worker-settings.js';

export interface Setting {
  env: string;
  flag: string;
  default: string;
  description: string;
  roles: ReadonlyArray<'manager' | 'worker'>;
  /** A switch: the flag takes no value (`--pretty`); the variable is `true` or `false`. */
  boolean?: true;
}

const BOTH = ['manager', 'worker'] as const;

/** What both roles read: where beanstalkd and MongoDB are, the tube prefix, logging. */
const SHARED: readonly Setting[] = [
  {
    env: 'BEANSTALK_HOST',
    flag: 'beanstalk-host',
    default: '127.0.0.1',
    description: 'beanstalkd host',
    roles: BOTH,
  },
  {
    env: 'BEANSTALK_PORT',
    flag: 'beanstalk-port',
    default: '11300',
    description: 'beanstalkd port',
    roles: BOTH,
  },
  {
    env: 'BEANSTALK_TIMEOUT_MS',
    flag: 'beanstalk-timeout-ms',
    default: '2000',
    description: 'connect and command timeout for beanstalkd, in ms',
    roles: BOTH,
  },
  {
    env: 'MONGO_URL',
    flag: 'mongo-url',
    default: 'mongodb://127.0.0.1:27017',
    description: 'MongoDB connection string (credentials are never logged)',
    roles: BOTH,
  },
  {
    env: 'MONGO_DB',
    flag: 'mongo-db',
    default: '',
    description: 'database name (default: the one in MONGO_URL, else distributed_workers)',
    roles: BOTH,
  },
  {
    env: 'MONGO_TIMEOUT_MS',
    flag: 'mongo-timeout-ms',
    default: '3000',
    description: 'bound on one MongoDB operation, in ms',
    roles: BOTH,
  },
  {
    env: 'QUEUE_TUBE_PREFIX',
    flag: 'tube-prefix',
    default: '',
    description: 'prefix of every beanstalkd tube name (a tube per job type)',
    roles: BOTH,
  },
  { env: 'LOG_LEVEL', flag: 'log-level', default: 'info', description: LOG_LEVELS.join(', '), roles: BOTH },
  {
    env: 'LOG_PRETTY',
    flag: 'pretty',
    default: 'false',
    description: 'readable, coloured log lines for a terminal (pino-pretty) instead of JSON: true or false',
    roles: BOTH,
    boolean: true,
  },
];

/** Every setting, its environment variable, flag and default: the README table is this list. */
export const SETTINGS: readonly Setting[] = [...SHARED, ...MANAGER_SETTINGS, ...WORKER_SETTINGS];
