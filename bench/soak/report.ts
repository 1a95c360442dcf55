/** The soak's summary: a Markdown table of jobs, faults by kind, recoveries, invariants and RSS. */
import type { FaultRecord, Verdict } from './checker.js';
import type { Ledger } from './load.js';
import { FAULT_KINDS } from './schedule.js';

const table = (header: string[], rows: string[][]) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
};

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const seconds = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

export function summary(input: {
  seed: number;
  minutes: number;
  wallMinutes: number;
  rate: number;
  rateFrom: string;
  ledger: Ledger;
  faults: FaultRecord[];
  verdict: Verdict;
  checks: number;
  processes: string;
  requeued: number;
}): string {
  const { ledger, faults, verdict } = input;
  const c = ledger.counts;
  const jobs = table(
    ['what', 'count'],
    [
      ['seed', String(input.seed)],
      ['load phase, minutes (wall, whole run)', `${input.minutes} (${input.wallMinutes.toFixed(1)})`],
      ['processes', input.processes],
      ['load, jobs/s', `${input.rate.toFixed(0)} (${input.rateFrom})`],
      [
        'requests: single, keyed (replayed), retrying, failing, batches ×10, matrices ×12',
        `${c.singles}, ${c.keyed} (${c.replays}), ${c.retrying}, ${c.failing}, ${c.batches}, ${c.matrices}`,
      ],
      [
        'requests answered non-2xx (by status) / no answer',
        `${c.non2xx} (${[...ledger.statuses].map(([s, n]) => `${s}: ${n}`).join(', ') || '-'}) / ${c.networkErrors}`,
      ],
      ['jobs acknowledged', String(verdict.acked)],
      ['outcomes stored', String(verdict.outcomes)],
      ['requests in doubt (no 2xx): their outcomes', `${ledger.inDoubt.size}: ${verdict.straysInDoubt}`],
      ['GETs of acknowledged ids (503)', `${c.reads} (${c.reads503})`],
      ['**lost**', String(verdict.missing)],
      [
        '**duplicated** outcomes (an _id twice / inserted by 2 runs)',
        `${verdict.duplicated + verdict.storedTwice} (${verdict.duplicated} / ${verdict.storedTwice})`,
      ],
      ['wrong outcome or hash', String(verdict.wrong)],
      ['outcomes of never-acknowledged requests', String(verdict.straysBad)],
      ['GET 404 for an acknowledged id', String(verdict.notFound)],
      [
        'runs to the end per job: 0 / 1 / 2 / 3+',
        ['0', '1', '2', '3+'].map((k) => verdict.runsPerJob[k] ?? 0).join(' / '),
      ],
      [
        'jobs that ran to the end twice: near a fault / with none nearby',
        `${verdict.ranTwiceExplained} / ${verdict.ranTwiceUnexplained}`,
      ],
      ['jobs re-queued by a reconciler', String(input.requeued)],
      ['invariant checks (every minute and at the end)', String(input.checks)],
      ['violations', String(verdict.violations.length)],
    ],
  );
  const byKind = table(
    ['fault', 'count', 'hold s (max)', 'readyz recovery p50 s', 'max s'],
    FAULT_KINDS.map((kind) => {
      const of = faults.filter((f) => f.kind === kind);
      const rec = of.map((f) => f.recoveryMs).filter((v): v is number => v !== undefined);
      return [
        kind,
        String(of.length),
        seconds(Math.max(0, ...of.map((f) => f.holdMs))),
        seconds(percentile(rec, 50)),
        seconds(rec.length ? Math.max(...rec) : undefined),
      ];
    }),
  );
  const rss = table(
    ['process', 'RSS start MB', 'max first window MB', 'end MB', 'growth', 'judged'],
    verdict.rssGrowth.map((r) => [
      r.name,
      r.startMb.toFixed(0),
      r.baselineMb.toFixed(0),
      r.endMb.toFixed(0),
      `${(((r.endMb - r.baselineMb) / Math.max(1, r.baselineMb)) * 100).toFixed(0)} %`,
      r.judged ? 'yes' : 'no (lived too short)',
    ]),
  );
  return `${jobs}\n\n${byKind}\n\n${rss}\n`;
}
