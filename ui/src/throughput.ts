/**
 * What the throughput chart draws: jobs accepted, completed and failed — per second over the
 * last 5 minutes, or per minute over the last hour — all from GET /stats, which sums them from
 * the managers' and workers' heartbeats (`throughput` and `lastHour`). The overview reads
 * /stats every 2 s (and soon after events) and draws its latest answer whole: its last seconds
 * fill in as heartbeats arrive. Nothing is counted in the page: a page opened now shows the
 * whole hour.
 */

export const FIVE_MINUTES = 300;
export const HOUR_SECONDS = 3600;

/** uPlot's data: bucket starts (epoch seconds), then accepted, completed and failed per bucket. */
export type ChartData = [number[], number[], number[], number[]];

interface Series {
  start: string;
  accepted: number[];
  completed: number[];
  failed: number[];
}

export interface ThroughputAnswer {
  throughput: Series;
  lastHour: Series;
}

function fromSeries(series: Series, widthSeconds: number): ChartData {
  const first = Math.floor(Date.parse(series.start) / 1000);
  const data: ChartData = [[], [], [], []];
  if (Number.isNaN(first)) return data;
  series.completed.forEach((completed, i) => {
    data[0].push(first + i * widthSeconds);
    data[1].push(series.accepted[i] ?? 0);
    data[2].push(completed);
    data[3].push(series.failed[i] ?? 0);
  });
  return data;
}

/** The 5 minutes per second, or the hour per minute, of one GET /stats answer, as uPlot takes them. */
export function chartData(
  answer: ThroughputAnswer | undefined,
  windowSeconds: typeof FIVE_MINUTES | typeof HOUR_SECONDS,
): ChartData {
  if (answer === undefined) return [[], [], [], []];
  return windowSeconds === HOUR_SECONDS ? fromSeries(answer.lastHour, 60) : fromSeries(answer.throughput, 1);
}
