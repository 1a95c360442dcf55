/**
 * The V8 flags a manager and a worker start with, wherever this project starts them: the
 * local stack and the bench (from here), package.json's `manager` and `worker` scripts, the
 * image's NODE_OPTIONS, and the workers' NODE_OPTIONS in the stack file and the chart (a test
 * checks that they agree with this module).
 *
 * V8 lets the young generation grow to 16 MB per semi-space under load, and those pages stay
 * resident (goal: peak RSS under 150 MB in `npm run bench`). Since both roles make one full
 * collection once started (settle-heap.ts), their old generation no longer peaks at V8's
 * start-up limit, and the young generation is what the roles can spend: measured 2026-12-05
 * (quick runs, docs/performance-journal.md "The first full collection"), a worker with 16 MB used about
 * a sixth less CPU per drained job than with 4 MB (its young objects die young: a job waits tens
 * of milliseconds for its outcome's commit) at a peak of 126–132 MB; the manager with 16 MB made
 * POST /jobs/batch 10–15 % faster but peaked at 141–146 MB, with 8 MB at 122–128 MB, so it keeps
 * 8. The flag must be given at start (V8 sizes the young generation once), unlike
 * `--heap-growing-percent`, which index.ts sets itself.
 */
export const NODE_FLAGS = Object.freeze({
  manager: Object.freeze(['--max-semi-space-size=8']),
  worker: Object.freeze(['--max-semi-space-size=16']),
});

/** The flags for a CLI command: its role's for `manager` and `worker`, none for the others. */
export function nodeFlagsFor(command: string | undefined): readonly string[] {
  return command === 'manager' || command === 'worker' ? NODE_FLAGS[command] : [];
}
