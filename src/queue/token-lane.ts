/**
 * A worker's connection to one token tube (docs/limits-design.md): it watches that tube only,
 * takes a token with `reserve-with-timeout 0` (never a blocking reserve: the slots of a worker
 * share it, and one body-bearing command is in flight at a time, docs/facts.md "jackd 2.2.2"),
 * gives it back with `release` (at once, or after a delay), and touches the ones it holds.
 * beanstalkd lets only the connection that reserved a token release or touch it, and puts every
 * token a closed connection held back at once: a token remembers its connection, and once that
 * one is gone, giving it back is a no-op — never a release of the same id reserved again on the
 * next connection, which would be someone else's token.
 */
import type { BeanstalkConnection, ConnectionOptions } from './connection.js';
import { ConnectionSlot } from './connection-slot.js';
import { isQueueError, QueueErrorCode } from './errors.js';
import { parseTubeStats } from './stats.js';
import { assertBeanstalkId, assertTubeName, assertUint32 } from './validate.js';

/** A token this lane holds. */
export interface Token {
  readonly beanstalkId: string;
}

export interface TokenLane {
  readonly tube: string;
  /** A token now, or null when none is ready. */
  take(): Promise<Token | null>;
  /** Releases a token, ready again after `delaySeconds`; nothing when its connection is gone. */
  giveBack(token: Token, delaySeconds: number): Promise<void>;
  /** Extends a held token's TTR; nothing when its connection is gone. */
  touch(token: Token): Promise<void>;
  /** Whether the token is still this lane's: taken on a connection that is still open. */
  holds(token: Token): boolean;
  /** Whether the tube holds any token now, in any state (`stats-tube`). */
  hasTokens(): Promise<boolean>;
  close(): Promise<void>;
}

/** Every token's priority: tokens of a tube are alike. */
export const TOKEN_PRIORITY = 0;

export function createTokenLane(options: ConnectionOptions & { tube: string }): TokenLane {
  const tube = assertTubeName(options.tube);
  const slot = new ConnectionSlot(options, async (connection) => {
    await connection.command('watch', 'pipelined', (c) => c.watch(tube));
    if (tube !== 'default') await connection.command('ignore', 'pipelined', (c) => c.ignore('default'));
  });
  const held = new WeakMap<Token, BeanstalkConnection>();

  /** The token's connection while it is still open: only it may act on the token. */
  const ownerOf = (token: Token) => {
    const connection = held.get(token);
    return connection?.isOpen ? connection : undefined;
  };

  return {
    tube,
    async take() {
      const connection = await slot.get();
      try {
        const job = await connection.command('reserve-with-timeout', 'exclusive', (c) =>
          c.reserveWithTimeout(0),
        );
        const token: Token = { beanstalkId: assertBeanstalkId(String(job.id)) };
        held.set(token, connection);
        return token;
      } catch (error: unknown) {
        // DEADLINE_SOON: a token this connection holds is near its TTR (a touch is late); no
        // token was given, which is what the caller needs to know.
        if (
          isQueueError(error, QueueErrorCode.TIMED_OUT) ||
          isQueueError(error, QueueErrorCode.DEADLINE_SOON)
        )
          return null;
        throw error;
      }
    },

    async giveBack(token, delaySeconds) {
      assertUint32('delay', delaySeconds);
      const connection = ownerOf(token);
      held.delete(token);
      if (!connection) return;
      try {
        await connection.command('release', 'pipelined', (c) =>
          c.release(token.beanstalkId, { priority: TOKEN_PRIORITY, delay: delaySeconds }),
        );
      } catch (error: unknown) {
        // Gone with its connection meanwhile (then beanstalkd has it back), or past its TTR and
        // handed to someone else: either way it is no longer ours to give.
        if (
          !isQueueError(error, QueueErrorCode.NOT_FOUND) &&
          !isQueueError(error, QueueErrorCode.UNAVAILABLE)
        )
          throw error;
      }
    },

    holds(token) {
      return ownerOf(token) !== undefined;
    },

    async touch(token) {
      const connection = ownerOf(token);
      if (!connection) return;
      await connection.command('touch', 'pipelined', (c) => c.touch(token.beanstalkId));
    },

    async hasTokens() {
      const connection = await slot.get();
      try {
        const stats = parseTubeStats(
          await connection.command('stats-tube', 'exclusive', (c) => c.statsTube(tube)),
        );
        return (
          stats.currentJobsReady +
            stats.currentJobsReserved +
            stats.currentJobsDelayed +
            stats.currentJobsBuried >
          0
        );
      } catch (error: unknown) {
        if (isQueueError(error, QueueErrorCode.NOT_FOUND)) return false;
        throw error;
      }
    },

    close() {
      return slot.close();
    },
  };
}
