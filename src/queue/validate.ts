/**
 * Guards for everything that is written into a protocol line: jackd puts ids, tubes and
 * numbers into commands unchecked, so `statsJob("2\r\ndelete 1")` deleted job 1
 * (docs/facts.md, "jackd 2.2.2").
 */
import { QueueError, QueueErrorCode } from './errors.js';

const BEANSTALK_ID = /^\d{1,20}$/;
// beanstalkd's tube names: up to 200 bytes of letters, digits and - + / ; . $ _ ( ), not starting with '-'.
const TUBE = /^[A-Za-z0-9+/;.$_()][A-Za-z0-9\-+/;.$_()]{0,199}$/;
const UINT32_MAX = 2 ** 32 - 1;

export function isBeanstalkId(value: unknown): value is string {
  return typeof value === 'string' && BEANSTALK_ID.test(value);
}

export function assertBeanstalkId(value: unknown): string {
  if (!isBeanstalkId(value)) {
    throw new QueueError(QueueErrorCode.INVALID_ARGUMENT, 'a beanstalkd job id must be 1-20 decimal digits');
  }
  return value;
}

export function isTubeName(value: unknown): value is string {
  return typeof value === 'string' && TUBE.test(value);
}

export function assertTubeName(value: unknown): string {
  if (!isTubeName(value)) {
    throw new QueueError(QueueErrorCode.INVALID_ARGUMENT, 'invalid beanstalkd tube name');
  }
  return value;
}

export function assertUint32(name: string, value: number, min = 0): number {
  if (!Number.isInteger(value) || value < min || value > UINT32_MAX) {
    throw new QueueError(
      QueueErrorCode.INVALID_ARGUMENT,
      `${name} must be an integer from ${min} to ${UINT32_MAX}`,
    );
  }
  return value;
}
