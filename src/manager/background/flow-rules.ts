/**
 * The flow rules with no server: when a waiter is looked at next, and what its parents'
 * outcomes make of it (docs/flows-design.md). The flow loop (flow-loop.ts) applies them.
 */
import { type FlowSpec, Outcome, type ResultDocument } from '../../store/index.js';
import type { ManagerEnding } from '../jobs/manager-outcome.js';

/** The waiter's next look: 1 s after its first, doubling to 30 s (beanstalkd counts its releases). */
export function waiterDelaySeconds(releases: number): number {
  return Math.min(30, 2 ** Math.min(releases, 5));
}

/** What the parents' outcomes say the job does now. */
export function parentsVerdict(
  flow: FlowSpec | undefined,
  outcomes: readonly (ResultDocument | null)[],
): { release: true } | { end: ManagerEnding } | { wait: true } {
  if (flow === undefined) return { release: true };
  if (flow.onParentFailure === 'run')
    return outcomes.every((o) => o !== null) ? { release: true } : { wait: true };
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome === null || outcome.outcome === Outcome.COMPLETED) continue;
    const parent = flow.dependsOn[i];
    const ending =
      flow.onParentFailure === 'fail' && outcome.outcome === Outcome.FAILED
        ? Outcome.FAILED
        : Outcome.CANCELLED;
    return { end: { outcome: ending, error: { message: `parent ${parent} ${outcome.outcome}` } } };
  }
  return outcomes.every((o) => o?.outcome === Outcome.COMPLETED) ? { release: true } : { wait: true };
}
