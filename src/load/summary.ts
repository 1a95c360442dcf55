/** The load command's closing report, as people read it and as `--json` prints it. */
import type { Spread } from './percentiles.js';

export interface LoadSummary {
  url: string;
  mode: 'single' | 'batch';
  count: number;
  concurrency: number;
  /** Jobs per second asked for; 0 for as fast as the manager takes them. */
  rate: number;
  accepted: number;
  /** Refused or unanswered POSTs by HTTP status (`error` when no answer came). */
  rejected: Record<string, number>;
  completed: number;
  failed: number;
  cancelled: number;
  /** Accepted jobs still without an outcome when the wait ended. */
  unfinished: number;
  postSeconds: number;
  totalSeconds: number;
  postLatencyMs: Spread;
  endToEndMs: Spread;
}

const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(1));
const perSecond = (count: number, seconds: number) => (seconds > 0 ? Math.round(count / seconds) : 0);

function line(label: string, s: Spread): string {
  return `${label.padEnd(26)}p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  (n=${s.count})`;
}

/** Whether the run went as it should: every job accepted and completed. */
export function succeeded(summary: LoadSummary): boolean {
  return (
    summary.accepted === summary.count &&
    summary.completed === summary.accepted &&
    summary.failed === 0 &&
    summary.cancelled === 0 &&
    summary.unfinished === 0
  );
}

export function formatSummary(summary: LoadSummary): string {
  const rejected = Object.entries(summary.rejected)
    .map(([status, n]) => `${n} × ${status === 'error' ? 'no answer' : `HTTP ${status}`}`)
    .join(', ');
  const rejectedCount = Object.values(summary.rejected).reduce((a, b) => a + b, 0);
  return [
    `load: ${summary.count} jobs to ${summary.url} (${summary.mode} mode, concurrency ${summary.concurrency}, rate ${summary.rate > 0 ? `${summary.rate}/s` : 'unlimited'})`,
    `accepted:   ${summary.accepted}`,
    `rejected:   ${rejectedCount}${rejected ? ` (${rejected})` : ''}`,
    `completed:  ${summary.completed}`,
    `failed:     ${summary.failed}${summary.cancelled > 0 ? ` (and ${summary.cancelled} cancelled)` : ''}`,
    `unfinished: ${summary.unfinished}`,
    `posting:    ${summary.postSeconds.toFixed(2)} s (${perSecond(summary.accepted, summary.postSeconds)} jobs/s accepted)`,
    `all done:   ${summary.totalSeconds.toFixed(2)} s (${perSecond(summary.completed + summary.failed, summary.totalSeconds)} jobs/s end to end)`,
    line('POST latency (ms):', summary.postLatencyMs),
    line('end-to-end latency (ms):', summary.endToEndMs),
    succeeded(summary)
      ? 'result: every job accepted and completed'
      : 'result: NOT every job was accepted and completed',
  ].join('\n');
}
