/**
 * What the throughput chart draws: jobs accepted, completed and failed per second, kept for up
 * to an hour, every second on the server's clock.
 *
 * - completed, failed: GET /stats `throughput`, per-second outcome counts of the last 5 minutes
 *   summed from the workers' heartbeats. The overview polls /stats every 2 s (chosen over
 *   counting events: /stats already holds the 5 minutes before the page opened); each answer
 *   overwrites the seconds it covers, since its last seconds fill in as heartbeats arrive.
 * - accepted: the API keeps no per-second history of acceptances, so they are counted here from
 *   the `accepted` events of GET /events, from the moment the stream opened. Earlier seconds are
 *   gaps (null), not zeros.
 * - The API keeps no hour of history either: "last hour" is what this page has seen since it
 *   opened (plus the 5 minutes its first /stats answer held), and is labelled so.
 */

export const HOUR_SECONDS = 3600;

/** uPlot's data: seconds, then accepted, completed and failed per second (null: not known). */
export type ChartData = [number[], Array<number | null>, Array<number | null>, Array<number | null>];

export interface ThroughputAnswer {
  at: string;
  throughput: { start: string; completed: number[]; failed: number[] };
}

export class ThroughputHistory {
  private readonly outcomes = new Map<number, { completed: number; failed: number }>();
  private readonly accepted = new Map<number, number>();
  /** The server's clock minus ours, from the last /stats answer. */
  private skewMs = 0;
  private countingSince: number | undefined;
  private last: number | undefined;

  /** Takes one GET /stats answer's per-second counts. */
  addStats(answer: ThroughputAnswer, receivedAtMs: number = Date.now()): void {
    const { start, completed, failed } = answer.throughput;
    const first = Math.floor(Date.parse(start) / 1000);
    if (Number.isNaN(first) || completed.length === 0) return;
    completed.forEach((count, i) => {
      this.outcomes.set(first + i, { completed: count, failed: failed[i] ?? 0 });
    });
    const end = first + completed.length - 1;
    this.last = Math.max(this.last ?? end, end);
    const at = Date.parse(answer.at);
    if (!Number.isNaN(at)) this.skewMs = at - receivedAtMs;
    this.trim();
  }

  /** The event stream is open: acceptances are counted from this second on. */
  startCounting(nowMs: number = Date.now()): void {
    this.countingSince ??= Math.floor((nowMs + this.skewMs) / 1000);
  }

  /** One `accepted` event, at the time the event says (the manager's clock). */
  countAccepted(at: string): void {
    const second = Math.floor(Date.parse(at) / 1000);
    if (Number.isNaN(second)) return;
    this.accepted.set(second, (this.accepted.get(second) ?? 0) + 1);
  }

  /** Seconds known so far (at most an hour): grows by one a second while /stats answers. */
  get seconds(): number {
    return this.outcomes.size;
  }

  /** When acceptances started being counted (ms since the epoch), if they have. */
  get countingSinceMs(): number | undefined {
    return this.countingSince === undefined ? undefined : this.countingSince * 1000;
  }

  /** The last `windowSeconds` seconds known, as uPlot takes them. */
  data(windowSeconds: number): ChartData {
    const data: ChartData = [[], [], [], []];
    if (this.last === undefined) return data;
    const from = Math.max(this.last - windowSeconds + 1, this.earliest());
    for (let second = from; second <= this.last; second += 1) {
      const outcome = this.outcomes.get(second);
      data[0].push(second);
      data[1].push(
        this.countingSince !== undefined && second >= this.countingSince
          ? (this.accepted.get(second) ?? 0)
          : null,
      );
      data[2].push(outcome ? outcome.completed : null);
      data[3].push(outcome ? outcome.failed : null);
    }
    return data;
  }

  private earliest(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const second of this.outcomes.keys()) earliest = Math.min(earliest, second);
    return earliest;
  }

  private trim(): void {
    if (this.last === undefined) return;
    const oldest = this.last - HOUR_SECONDS + 1;
    for (const map of [this.outcomes, this.accepted]) {
      for (const second of map.keys()) if (second < oldest) map.delete(second);
    }
  }
}
