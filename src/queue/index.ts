/** The only code that talks to beanstalkd. */
export type { ConnectionOptions } from './connection.js';
export { type Consumer, createConsumer, type ReservedJob } from './consumer.js';
export { isQueueError, isQueueUnavailable, QueueError, QueueErrorCode } from './errors.js';
export type { JobStats } from './job-stats.js';
export { createJobStatsLane, type JobStatsLane } from './job-stats-lane.js';
export { createQueueClient, type PutOptions, type QueueClient, type QueuedJob } from './queue-client.js';
export { connectionTo, createQueueSet, type Placed, type QueueSet, queueSetOf } from './queue-set.js';
export type { ServerStats, TubeStats } from './stats.js';
export { createTokenLane, TOKEN_PRIORITY, type Token, type TokenLane } from './token-lane.js';
export { isBeanstalkId, isTubeName } from './validate.js';
