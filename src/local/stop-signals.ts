/**
 * SIGINT, SIGTERM and SIGHUP as a stop request for a long-running command: the first asks
 * for an orderly stop, a second one (a second later or more, so that one Ctrl-C delivered
 * twice — by the terminal and by a wrapper such as npm — does not count) forces it.
 */
export interface StopSignals {
  /** True once a stop was asked for. */
  readonly requested: boolean;
  /** Settles on the first signal. */
  readonly stopped: Promise<void>;
  /** Removes the handlers. Idempotent. */
  dispose(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const REPEAT_WINDOW_MS = 1000;

export function watchStopSignals(handlers: {
  onFirst(signal: NodeJS.Signals): void;
  onForce(signal: NodeJS.Signals): void;
}): StopSignals {
  let firstAt: number | undefined;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt === undefined) {
      firstAt = Date.now();
      handlers.onFirst(signal);
      resolveStopped();
    } else if (Date.now() - firstAt >= REPEAT_WINDOW_MS) {
      handlers.onForce(signal);
    }
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return {
    get requested() {
      return firstAt !== undefined;
    },
    stopped,
    dispose() {
      for (const signal of SIGNALS) process.off(signal, onSignal);
    },
  };
}
