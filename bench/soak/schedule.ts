/**
 * The soak's fault schedule, drawn from a seed: the same seed gives the same faults, targets,
 * durations and gaps, so a failing run can be replayed (`--seed`). Timing still depends on how
 * long each recovery takes; the order and shape of the faults do not.
 */

/** mulberry32: a small, fast, seeded PRNG with a 2^32 period (enough for a schedule). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const FAULT_KINDS = [
  'worker-kill',
  'worker-stop',
  'worker-cut',
  'manager-kill',
  'beanstalkd-kill',
  'store-kill',
  'store-pause',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  kind: FaultKind;
  /** Which process of its role (worker or manager index); 0 for beanstalkd and the store. */
  target: number;
  /** How long the fault lasts (down, stopped or paused) before it is undone, ms. */
  holdMs: number;
  /** Quiet time after the system has recovered, before the next fault, ms. */
  gapMs: number;
}

export interface ScheduleShape {
  workers: number;
  managers: number;
  /** The jobs' TTR: a stopped worker stays stopped past it. */
  ttrSeconds: number;
  gapMs: readonly [number, number];
}

/**
 * An endless plan, in rounds: each round is every kind once, in a shuffled order, so a short
 * run still meets each kind. Worker 0 and manager 0 are never killed (they are stopped and cut
 * like the others): their RSS is watched over the whole run.
 */
export function* faultPlan(seed: number, shape: ScheduleShape): Generator<PlannedFault> {
  const random = prng(seed);
  const between = (low: number, high: number) => Math.round(low + random() * (high - low));
  const pick = (from: number, count: number) => from + Math.floor(random() * (count - from));
  for (;;) {
    const round = [...FAULT_KINDS];
    for (let i = round.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [round[i], round[j]] = [round[j]!, round[i]!];
    }
    for (const kind of round) {
      const gapMs = between(shape.gapMs[0], shape.gapMs[1]);
      const ttr = shape.ttrSeconds * 1000;
      switch (kind) {
        case 'worker-kill':
          yield { kind, target: pick(1, shape.workers), holdMs: between(200, 2000), gapMs };
          break;
        case 'worker-stop':
          yield { kind, target: pick(0, shape.workers), holdMs: between(ttr + 1500, ttr + 5000), gapMs };
          break;
        case 'worker-cut':
          yield { kind, target: pick(0, shape.workers), holdMs: 0, gapMs };
          break;
        case 'manager-kill':
          yield { kind, target: pick(1, shape.managers), holdMs: between(200, 2000), gapMs };
          break;
        case 'beanstalkd-kill':
          yield { kind, target: 0, holdMs: between(500, 3000), gapMs };
          break;
        case 'store-kill':
          yield { kind, target: 0, holdMs: between(500, 4000), gapMs };
          break;
        case 'store-pause':
          yield { kind, target: 0, holdMs: between(2000, 6000), gapMs };
          break;
      }
    }
  }
}
