/** Number formatting for the bench table. */
export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The p-th percentile of an ascending array. */
export const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** Latencies in ms as `p50 …, p90 …, p99 …, max … ms (n=…)`. */
export const latencySummary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return `p50 ${fmt(pct(sorted, 50))}, p90 ${fmt(pct(sorted, 90))}, p99 ${fmt(pct(sorted, 99))}, max ${fmt(sorted.at(-1) ?? Number.NaN)} ms (n=${fmt(sorted.length)})`;
};
