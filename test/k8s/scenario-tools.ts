/** What the Kubernetes scenarios share: the manager's URL, the result rows, conditions. */
import { strict as assert } from 'node:assert';
import {
  authHeaders,
  formatTable,
  type JobFlow,
  postOutcomes,
  type ScenarioRow,
} from '../support/job-flow.js';

export const rows: ScenarioRow[] = [];

/** Prints a scenario's counts and asserts exactly-once: none lost, none doubled, right hashes. */
export function record(row: ScenarioRow, flow?: JobFlow): void {
  rows.push(row);
  if (flow && flow.strayAnswers.length > 0) {
    console.log(
      `      ${flow.strayAnswers.length} answers not from a manager (retried): ${flow.strayAnswers.slice(0, 3).join('; ')}`,
    );
  }
  const { scenario, accepted, completed, lost, duplicated, wrongHashes, seconds } = row;
  console.log(
    `      ${JSON.stringify({ scenario, accepted, completed, lost, duplicated, wrongHashes, seconds })}`,
  );
  assert.equal(row.lost, 0, `${row.scenario}: lost jobs`);
  assert.equal(row.duplicated, 0, `${row.scenario}: duplicated jobs`);
  assert.equal(row.wrongHashes, 0, `${row.scenario}: wrong hashes`);
  assert.equal(row.completed, row.accepted);
}

/** A row for a scenario that moves no jobs (it checks the cluster's state instead). */
export function recordCheck(scenario: string, startedAt: number): void {
  record({
    scenario,
    accepted: 0,
    completed: 0,
    lost: 0,
    duplicated: 0,
    wrongHashes: 0,
    seconds: (Date.now() - startedAt) / 1000,
  });
}

export function printTable(): void {
  if (rows.length > 0) console.log(`\n${formatTable(rows)}\n`);
}

/** The hosts (pod names) of the workers GET /workers lists as live. */
export async function liveWorkerHosts(base: string): Promise<Set<string>> {
  try {
    const res = await fetch(`${base}/workers`, {
      headers: { ...authHeaders(), connection: 'close' },
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200) return new Set();
    const body = (await res.json()) as { workers: Array<{ host: string }> };
    return new Set(body.workers.map((w) => w.host));
  } catch {
    return new Set();
  }
}

/** How many accepted jobs of `ids` have no outcome yet. */
export async function unfinishedCount(base: string, ids: string[]): Promise<number> {
  return (await postOutcomes(base, ids)).unfinished.length;
}
