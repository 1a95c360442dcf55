/**
 * The soak's steady load and its ledger. A client spreads requests over every manager at a set
 * rate of jobs per second: single POSTs (some under an Idempotency-Key, retried until accepted
 * and sometimes replayed), JSON batches, matrix groups, `simulate` jobs that fail and retry,
 * and some that fail for good. Every acknowledged id is recorded with what its outcome must be
 * (the hash of the payload sent, or completed/failed). A request that got no 2xx answer is
 * "in doubt": its jobs may exist; the checker allows an outcome for them and nothing else.
 * A reader GETs acknowledged ids all along and records any 404.
 */
import { hashPayload } from '../../src/handlers/index.js';
import type { Cluster } from './cluster.js';
import { prng } from './schedule.js';

/** What an acknowledged job's outcome must be. */
export type Expect = 'hash' | 'retry' | 'fail';

export interface Acked {
  expect: Expect;
  /** For `hash`: the digest of the payload sent. */
  hash?: string;
  ackedAt: number;
  serial: number;
  key?: string;
}

export class Ledger {
  readonly acked = new Map<string, Acked>();
  readonly ids: string[] = [];
  /** Requests (by serial) with no 2xx answer, or not every job accepted: their jobs may exist. */
  readonly inDoubt = new Set<number>();
  /** Jobs acknowledged per second since `t0`. */
  readonly ackedPerSecond: number[] = [];
  readonly notFound: Array<{ id: string; manager: number; at: number }> = [];
  readonly replayMismatches: string[] = [];
  /** Non-2xx answers by status. */
  readonly statuses = new Map<number, number>();
  readonly counts = {
    requests: 0,
    singles: 0,
    keyed: 0,
    replays: 0,
    batches: 0,
    matrices: 0,
    retrying: 0,
    failing: 0,
    non2xx: 0,
    networkErrors: 0,
    skippedBusy: 0,
    reads: 0,
    reads503: 0,
  };

  constructor(readonly t0: number) {}

  ack(id: string, entry: Acked): void {
    if (this.acked.has(id)) return;
    this.acked.set(id, entry);
    this.ids.push(id);
    const second = Math.floor((entry.ackedAt - this.t0) / 1000);
    while (this.ackedPerSecond.length <= second) this.ackedPerSecond.push(0);
    this.ackedPerSecond[second]! += 1;
  }
}

type Unit = 'single' | 'keyed' | 'batch' | 'matrix' | 'retry' | 'fail';
/** The mix, in requests: each unit's share. Batches and matrices carry 10 and 12 jobs. */
const MIX: ReadonlyArray<[Unit, number]> = [
  ['single', 0.5],
  ['keyed', 0.2],
  ['retry', 0.12],
  ['fail', 0.03],
  ['batch', 0.1],
  ['matrix', 0.05],
];
const SIZE: Record<Unit, number> = { single: 1, keyed: 1, retry: 1, fail: 1, batch: 10, matrix: 12 };
const MAX_IN_FLIGHT = 200;

interface Answer {
  status: number;
  body: unknown;
}

export class Load {
  private running = false;
  private inFlight = new Set<Promise<void>>();
  private serial = 0;
  private next = 0;
  private timers: NodeJS.Timeout[] = [];
  private readonly random: () => number;
  private reader: Promise<void> = Promise.resolve();

  constructor(
    private readonly cluster: Cluster,
    readonly ledger: Ledger,
    private readonly seed: number,
  ) {
    this.random = prng(seed ^ 0x5eed);
  }

  private manager(): number {
    this.next = (this.next + 1) % this.cluster.managerPorts.length;
    return this.next;
  }

  private async post(manager: number, path: string, body: string, key?: string): Promise<Answer | undefined> {
    this.ledger.counts.requests += 1;
    try {
      const res = await fetch(`${this.cluster.managerUrl(manager)}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(key ? { 'Idempotency-Key': key } : {}) },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status >= 300) {
        this.ledger.counts.non2xx += 1;
        this.ledger.statuses.set(res.status, (this.ledger.statuses.get(res.status) ?? 0) + 1);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed };
    } catch {
      this.ledger.counts.networkErrors += 1;
      return undefined;
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** One single job; `query` selects its type and options. */
  private async single(expect: Expect, query: string, key?: string): Promise<void> {
    const serial = this.serial++;
    const text = JSON.stringify({ s: serial, seed: this.seed, at: Date.now() });
    const started = Date.now();
    for (let attempt = 0; ; attempt += 1) {
      const manager = this.manager();
      const answer = await this.post(manager, `/jobs${query}`, text, key);
      const id = (answer?.body as { id?: unknown } | undefined)?.id;
      if (answer && answer.status < 300 && typeof id === 'string') {
        this.ledger.ack(id, {
          expect,
          ...(expect === 'hash' ? { hash: hashPayload(text) } : {}),
          ackedAt: Date.now(),
          serial,
          ...(key ? { key } : {}),
        });
        if (key && this.random() < 0.1) await this.replay(id, query, text, key);
        return;
      }
      // Without a key a retry would be a second job: the request stays in doubt.
      if (
        !key ||
        Date.now() - started > 120_000 ||
        (answer && answer.status < 500 && answer.status !== 429)
      ) {
        this.ledger.inDoubt.add(serial);
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }

  /** The same request again, under the same key: the same job must come back. */
  private async replay(id: string, query: string, text: string, key: string): Promise<void> {
    this.ledger.counts.replays += 1;
    const answer = await this.post(this.manager(), `/jobs${query}`, text, key);
    const again = (answer?.body as { id?: unknown } | undefined)?.id;
    if (answer && answer.status < 300 && again !== id)
      this.ledger.replayMismatches.push(`${key}: first ${id}, replay ${String(again)}`);
  }

  private async batch(): Promise<void> {
    const serial = this.serial++;
    const payloads = Array.from({ length: SIZE.batch }, (_, i) => ({ s: serial, i, seed: this.seed }));
    const answer = await this.post(
      this.manager(),
      '/jobs/batch',
      JSON.stringify(payloads.map((payload) => ({ payload }))),
    );
    const jobs = (answer?.body as { jobs?: Array<{ index?: number; id?: string }> } | undefined)?.jobs;
    let got = 0;
    if (answer && answer.status < 300 && Array.isArray(jobs)) {
      for (const job of jobs) {
        const payload = payloads[job.index ?? -1];
        if (typeof job.id !== 'string' || !payload) continue;
        got += 1;
        this.ledger.ack(job.id, {
          expect: 'hash',
          hash: hashPayload(JSON.stringify(payload)),
          ackedAt: Date.now(),
          serial,
        });
      }
    }
    if (got < payloads.length) this.ledger.inDoubt.add(serial);
  }

  private async matrix(): Promise<void> {
    const serial = this.serial++;
    const template = { s: serial, seed: this.seed };
    const answer = await this.post(
      this.manager(),
      '/jobs/matrix',
      JSON.stringify({ template, axes: { a: [0, 1, 2], b: [0, 1, 2, 3] } }),
    );
    const jobs = (answer?.body as { jobs?: Array<{ id?: string; combination?: object }> } | undefined)?.jobs;
    let got = 0;
    if (answer && answer.status < 300 && Array.isArray(jobs)) {
      for (const job of jobs) {
        if (typeof job.id !== 'string' || !job.combination) continue;
        got += 1;
        this.ledger.ack(job.id, {
          expect: 'hash',
          hash: hashPayload(JSON.stringify({ ...template, ...job.combination })),
          ackedAt: Date.now(),
          serial,
        });
      }
    }
    if (got < SIZE.matrix) this.ledger.inDoubt.add(serial);
  }

  private unit(kind: Unit): Promise<void> {
    const counts = this.ledger.counts;
    switch (kind) {
      case 'single':
        counts.singles += 1;
        return this.single('hash', '');
      case 'keyed':
        counts.keyed += 1;
        return this.single('hash', '', `soak-${this.seed}-${this.serial}`);
      case 'retry':
        counts.retrying += 1;
        return this.single('retry', '?type=simulate&fail_rate=0.3&attempts=4&mean_ms=5');
      case 'fail':
        counts.failing += 1;
        return this.single('fail', '?type=simulate&fail_rate=1&attempts=2&mean_ms=5');
      case 'batch':
        counts.batches += 1;
        return this.batch();
      case 'matrix':
        counts.matrices += 1;
        return this.matrix();
    }
  }

  private pick(): Unit {
    let x = this.random();
    for (const [kind, share] of MIX) {
      x -= share;
      if (x < 0) return kind;
    }
    return 'single';
  }

  /** Posts about `jobsPerSecond` jobs a second (a batch counts its jobs) until stop(). */
  start(jobsPerSecond: number): void {
    this.running = true;
    let credit = 0;
    let last = Date.now();
    // The next unit is drawn once and waits for its credit: a batch is not skipped for singles.
    let kind = this.pick();
    const tick = () => {
      const now = Date.now();
      credit = Math.min(credit + ((now - last) / 1000) * jobsPerSecond, Math.max(jobsPerSecond, 12));
      last = now;
      for (; credit >= SIZE[kind]; kind = this.pick()) {
        credit -= SIZE[kind];
        if (this.inFlight.size >= MAX_IN_FLIGHT) {
          this.ledger.counts.skippedBusy += 1;
          continue;
        }
        this.track(this.unit(kind));
      }
    };
    this.timers.push(setInterval(tick, 50));
    this.reader = this.read();
  }

  /** GETs acknowledged ids, one at a time, about 10 a second: any 404 is a violation. */
  private async read(): Promise<void> {
    while (this.running) {
      const ids = this.ledger.ids;
      const id = ids[Math.floor(this.random() * ids.length)];
      if (id) {
        const manager = this.manager();
        try {
          const res = await fetch(`${this.cluster.managerUrl(manager)}/jobs/${id}?payload=false`, {
            signal: AbortSignal.timeout(5000),
          });
          this.ledger.counts.reads += 1;
          if (res.status === 404) this.ledger.notFound.push({ id, manager, at: Date.now() });
          if (res.status === 503) this.ledger.counts.reads503 += 1;
          await res.body?.cancel();
        } catch {
          // A manager that is down gives no answer, which is not a wrong one.
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops posting; waits for the requests under way (keyed ones retry until accepted). */
  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all([...this.inFlight, this.reader]);
  }

  /**
   * The end-to-end capacity: single POSTs as fast as `clients` loops can send them for
   * `seconds`, then until every one has its outcome; jobs per second over the whole time.
   */
  async calibrate(seconds: number, outcomes: () => Promise<number>, clients = 16): Promise<Calibration> {
    const started = Date.now();
    const before = this.ledger.acked.size;
    const loop = async () => {
      while (Date.now() - started < seconds * 1000) await this.single('hash', '');
    };
    await Promise.all(Array.from({ length: clients }, loop));
    const postedIn = (Date.now() - started) / 1000;
    const jobs = this.ledger.acked.size - before;
    const deadline = Date.now() + 120_000;
    while ((await outcomes().catch(() => 0)) < this.ledger.acked.size && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    const total = (Date.now() - started) / 1000;
    return { jobs, acceptPerSecond: jobs / postedIn, endToEndPerSecond: jobs / total };
  }
}

export interface Calibration {
  jobs: number;
  acceptPerSecond: number;
  endToEndPerSecond: number;
}
