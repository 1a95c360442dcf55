/**
 * The V8 flags a manager and a worker start with, wherever this project starts them: the
 * local stack and the bench (from here), package.json's `manager` and `worker` scripts, the
 * image's NODE_OPTIONS, and the workers' NODE_OPTIONS in the stack file and the chart (a test
 * checks that they agree with this module).
 *
 * V8 lets the young generation grow to 16 MB per semi-space under load, and those pages stay
 * resident: peak RSS with node's default was 151–168 MB for the manager and up to 160 MB for a
 * worker in `npm run bench` (goal: under 150). A smaller cap costs the manager's batch path
 * (more of a 1,000-job request survives a scavenge and is promoted) but not the workers' drain,
 * so the two roles differ: measured 2026-12-01, three alternating runs each, POST /jobs/batch
 * 3,709–3,782 jobs/s with the default, 3,501–3,568 with 8 MB (manager peak 133–138 MB) and
 * 3,236–3,423 with 4 MB (121–126 MB); the drain 1,393–1,493 jobs/s with 4 MB against
 * 1,418–1,440 with the default (workers 106–136 MB against 132–160). docs/performance.md has
 * the runs. The flag must be given at start (V8 sizes the young generation once), unlike
 * `--heap-growing-percent`, which index.ts sets itself.
 */
export const NODE_FLAGS = Object.freeze({
  manager: Object.freeze(['--max-semi-space-size=8']),
  worker: Object.freeze(['--max-semi-space-size=4']),
});

/** The flags for a CLI command: its role's for `manager` and `worker`, none for the others. */
export function nodeFlagsFor(command: string | undefined): readonly string[] {
  return command === 'manager' || command === 'worker' ? NODE_FLAGS[command] : [];
}
