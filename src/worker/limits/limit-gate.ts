/**
 * A limited type's job starts only with its tokens (docs/limits-design.md): a run token, held
 * while the handler runs and given back when it ends, and a rate token, given back at once with
 * a delay of burst / rate seconds. Tokens are taken without waiting (`reserve-with-timeout 0`)
 * on one connection per token tube per worker (queue/token-lane.ts); a slot that finds none
 * tries again every POLL_MS for up to `waitMs` before its job is released for later. The run
 * tokens a worker holds are touched every TOKEN_TOUCH_MS. A type without limits passes at once.
 * A slot that ends a job keeps its run token for its next job if that is of the same type and
 * ready at once (`park`); otherwise the token goes back before the slot waits or starts any other
 * job: a token is never held by a slot that is not about to run its type.
 */
import { TOKEN_TOUCH_MS, type TokenKind, tokenTube } from '../../jobs/limit-tokens.js';
import { rateIntervalSeconds, type TypeLimits } from '../../jobs/type-limits.js';
import type { Logger } from '../../log.js';
import { type ConnectionOptions, createTokenLane, type Token, type TokenLane } from '../../queue/index.js';
import type { LimitsCache } from './limits-cache.js';
import type { SlotTubes } from './slot-tubes.js';

/** Why a job could not start now: its type's run tokens or rate tokens were all taken. */
export type LimitWaitReason = 'rate' | 'concurrency';

export type GateEntry =
  | { ok: true /** Gives the run token back (once; later calls do nothing). */; leave(): void }
  | { ok: false; reason: LimitWaitReason | 'unknown' | 'unavailable' };

export interface LimitGate {
  /** True when the type has limits (or they were never read): its budget counts runs. */
  isLimited(type: string): boolean;
  /** The type's tokens for one run, waiting up to the gate's wait; never throws. */
  enter(type: string, slot: number, signal?: AbortSignal): Promise<GateEntry>;
  /** The slot has no job ready for it: a run token it kept goes back now. */
  idle(slot: number): void;
  close(): Promise<void>;
}

/** How often a slot that found no token tries again while it waits. */
export const POLL_MS = 25;
/** How long a look at an unread type's token tubes holds. */
const TOKENS_SEEN_MS = 2000;

const OPEN: GateEntry = Object.freeze({ ok: true as const, leave: () => undefined });
const OPEN_NOW: Promise<GateEntry> = Promise.resolve(OPEN);

export function createLimitGate(options: {
  connection: ConnectionOptions;
  tubePrefix: string;
  limits: Pick<LimitsCache, 'get'>;
  tubes: SlotTubes;
  log: Logger;
  /** How long a slot holding a job waits for its tokens before releasing the job (0: not at all). */
  waitMs: number;
  /** Told of each job released for a limit. */
  onWait?: (type: string, reason: LimitWaitReason) => void;
}): LimitGate {
  const lanes = new Map<string, TokenLane>();
  const held = new Map<Token, TokenLane>();
  /** Run tokens kept by a slot between two jobs of their type. */
  const parked = new Map<number, { type: string; lane: TokenLane; token: Token }>();
  /** For types whose limits were never read: whether their token tubes hold tokens, and when seen. */
  const tokensSeen = new Map<string, { any: boolean; at: number }>();
  let closed = false;

  const laneFor = (kind: TokenKind, type: string) => {
    const tube = tokenTube(options.tubePrefix, kind, type);
    let lane = lanes.get(tube);
    if (!lane) {
      lane = createTokenLane({ ...options.connection, tube });
      lanes.set(tube, lane);
    }
    return lane;
  };

  const giveBack = (lane: TokenLane, token: Token, delaySeconds: number) => {
    lane.giveBack(token, delaySeconds).catch((error: unknown) => {
      // Its connection is going or gone: beanstalkd puts the token back when it closes.
      options.log.debug({ err: error, tube: lane.tube }, 'could not give a token back');
    });
  };

  /** Gives back the run token `slot` kept, if any. */
  const unpark = (slot: number) => {
    const kept = parked.get(slot);
    if (!kept) return;
    parked.delete(slot);
    held.delete(kept.token);
    giveBack(kept.lane, kept.token, 0);
  };

  /**
   * One try at the type's tokens: a run token first (held; the one `slot` kept if it kept one of
   * this type's), then a rate token (used).
   */
  async function tryTokens(type: string, limits: TypeLimits, slot: number): Promise<GateEntry> {
    let run: { lane: TokenLane; token: Token } | undefined;
    if (limits.concurrency !== undefined) {
      const kept = parked.get(slot);
      parked.delete(slot);
      if (kept && kept.type === type && kept.lane.holds(kept.token)) {
        run = kept;
      } else {
        if (kept) {
          held.delete(kept.token);
          giveBack(kept.lane, kept.token, 0);
        }
        const lane = laneFor('run', type);
        const token = await lane.take();
        if (!token) return { ok: false, reason: 'concurrency' };
        run = { lane, token };
      }
    }
    if (limits.ratePerSecond !== undefined) {
      const lane = laneFor('rate', type);
      let token: Token | null;
      try {
        token = await lane.take();
      } catch (error: unknown) {
        if (run) giveBack(run.lane, run.token, 0);
        throw error;
      }
      if (!token) {
        if (run) {
          held.delete(run.token);
          giveBack(run.lane, run.token, 0);
        }
        return { ok: false, reason: 'rate' };
      }
      giveBack(lane, token, rateIntervalSeconds(limits));
    }
    if (!run) return OPEN;
    const { lane, token } = run;
    held.set(token, lane);
    let left = false;
    return {
      ok: true,
      leave() {
        if (left) return;
        left = true;
        // Kept for the slot's next job, which is this type's if one is ready now; any other
        // next step (another type, nothing ready, stopping) gives it back first.
        if (!closed && held.has(token)) parked.set(slot, { type, lane, token });
      },
    };
  }

  /**
   * Limits never read (MongoDB unreachable since the worker started): beanstalkd still says
   * whether the type has tokens. None: no limits to keep (or none made yet), the job runs as it
   * did before limits existed. Some: the worker cannot know how to use them, so the job waits.
   */
  async function tokensExist(type: string): Promise<boolean> {
    const seen = tokensSeen.get(type);
    if (seen && Date.now() - seen.at < TOKENS_SEEN_MS) return seen.any;
    const any = (await laneFor('run', type).hasTokens()) || (await laneFor('rate', type).hasTokens());
    tokensSeen.set(type, { any, at: Date.now() });
    return any;
  }

  // A long run keeps its token: touched well inside its TTR (a job's own touches are per job).
  const toucher = setInterval(() => {
    for (const [token, lane] of held) {
      lane.touch(token).catch((error: unknown) => {
        options.log.debug({ err: error, tube: lane.tube }, 'could not touch a token');
      });
    }
  }, TOKEN_TOUCH_MS);
  toucher.unref();

  async function enterLimited(type: string, slot: number, signal?: AbortSignal): Promise<GateEntry> {
    try {
      return await enterNow(type, slot, signal);
    } finally {
      options.tubes.settled(slot);
    }
  }

  async function enterNow(type: string, slot: number, signal?: AbortSignal): Promise<GateEntry> {
    const limits = options.limits.get(type);
    // A kept run token is for this type's next run only, and only while the type has a cap.
    if (
      parked.get(slot)?.type !== type ||
      limits === null ||
      limits === 'unknown' ||
      limits.concurrency === undefined
    )
      unpark(slot);
    if (limits === null) return OPEN;
    if (limits === 'unknown') {
      try {
        if (!closed && !(await tokensExist(type))) return OPEN;
      } catch (error: unknown) {
        options.log.debug({ err: error, type }, 'could not see whether the type has tokens');
      }
      return { ok: false, reason: 'unknown' };
    }
    if (closed) return { ok: false, reason: 'unknown' };
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      let entry: GateEntry;
      try {
        entry = await tryTokens(type, limits, slot);
      } catch (error: unknown) {
        options.log.warn({ err: error, type }, 'could not take limit tokens; releasing the job for later');
        return { ok: false, reason: 'unavailable' };
      }
      if (entry.ok) {
        const { leave } = entry;
        return {
          ok: true,
          leave() {
            leave();
            // A run token kept: the slot is the likeliest to use it next. A rate token is
            // spent: another try right away would most likely find none.
            if (limits.concurrency !== undefined) options.tubes.finished(slot, type);
          },
        };
      }
      if (Date.now() + POLL_MS > deadline || signal?.aborted || closed) {
        if (entry.reason === 'rate' || entry.reason === 'concurrency') {
          options.tubes.missed(type, entry.reason);
          options.onWait?.(type, entry.reason);
        }
        return entry;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  return {
    isLimited(type) {
      return options.limits.get(type) !== null;
    },

    idle(slot) {
      unpark(slot);
    },

    enter(type, slot, signal) {
      if (options.limits.get(type) === null) {
        // A type without limits, the common case: answered without an async frame per job.
        unpark(slot);
        options.tubes.settled(slot);
        return OPEN_NOW;
      }
      return enterLimited(type, slot, signal);
    },

    async close() {
      closed = true;
      clearInterval(toucher);
      // Closing the connections gives back whatever they still hold, kept tokens too.
      parked.clear();
      await Promise.all([...lanes.values()].map((lane) => lane.close()));
      lanes.clear();
      held.clear();
    },
  };
}
