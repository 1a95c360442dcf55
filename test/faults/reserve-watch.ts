/**
 * Which jobs a worker holds right now, read off its beanstalkd connections as they pass
 * through a proxy: a `RESERVED` answer adds the job (its id from the body), a `delete`,
 * `release` or `bury` of it, or the connection closing, removes it. It also counts every
 * delivery of each job. A fault scenario asks it before hitting a worker, so it can wait until
 * the worker really holds jobs, and later check that beanstalkd handed those jobs out again.
 */
import { decodeEnvelope } from '../../src/jobs/envelope.js';
import type { ProxyTap } from '../support/harness.js';

/** One direction of one connection: whole lines, and the bodies some of them announce. */
class ProtocolReader {
  private buffer = '';

  /** `onLine` gets each line (without CRLF) and its body when it has one. */
  constructor(
    private readonly bodyLength: (line: string) => number | undefined,
    private readonly onLine: (line: string, body: string | undefined) => void,
  ) {}

  push(chunk: Buffer): void {
    // latin1: one character per byte, so body lengths in bytes index the string.
    this.buffer += chunk.toString('latin1');
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end < 0) return;
      const line = this.buffer.slice(0, end);
      const length = this.bodyLength(line);
      if (length === undefined) {
        this.buffer = this.buffer.slice(end + 2);
        this.onLine(line, undefined);
        continue;
      }
      if (this.buffer.length < end + 2 + length + 2) return;
      const body = Buffer.from(this.buffer.slice(end + 2, end + 2 + length), 'latin1').toString('utf8');
      this.buffer = this.buffer.slice(end + 2 + length + 2);
      this.onLine(line, body);
    }
  }
}

export class ReserveWatch implements ProxyTap {
  /** Per connection: beanstalkd id → job id, for the jobs reserved on it and not let go. */
  private readonly holding = new Map<number, Map<string, string>>();
  private readonly readers = new Map<number, { sent: ProtocolReader; received: ProtocolReader }>();
  /** Job ids the worker deleted, released or buried, ever. */
  private readonly letGo = new Set<string>();
  /** Job id → how many times beanstalkd handed it to this worker. */
  private readonly delivered = new Map<string, number>();
  /** Job id → when beanstalkd first handed it to this worker (ms). */
  private readonly firstDelivered = new Map<string, number>();

  /** The job ids this worker holds now. */
  held(): string[] {
    return [...this.holding.values()].flatMap((jobs) => [...jobs.values()]);
  }

  /** How many times beanstalkd has handed this job to this worker. */
  deliveries(jobId: string): number {
    return this.delivered.get(jobId) ?? 0;
  }

  /** When beanstalkd first handed this job to this worker (ms since the epoch), if ever. */
  firstDeliveredAt(jobId: string): number | undefined {
    return this.firstDelivered.get(jobId);
  }

  /** Whether the worker has deleted, released or buried this job (any copy of it). */
  wasLetGo(jobId: string): boolean {
    return this.letGo.has(jobId);
  }

  sent(connection: number, chunk: Buffer): void {
    this.reader(connection).sent.push(chunk);
  }

  received(connection: number, chunk: Buffer): void {
    this.reader(connection).received.push(chunk);
  }

  closed(connection: number): void {
    // beanstalkd puts back whatever a closed connection held.
    this.holding.delete(connection);
    this.readers.delete(connection);
  }

  private reader(connection: number) {
    let reader = this.readers.get(connection);
    if (reader) return reader;
    const jobs = new Map<string, string>();
    this.holding.set(connection, jobs);
    reader = {
      sent: new ProtocolReader(
        (line) => {
          const put = /^put \d+ \d+ \d+ (\d+)$/.exec(line);
          return put ? Number(put[1]) : undefined;
        },
        (line) => {
          const letGo = /^(?:delete|release|bury) (\d+)\b/.exec(line);
          const jobId = letGo?.[1] ? jobs.get(letGo[1]) : undefined;
          if (letGo?.[1] && jobId !== undefined) {
            jobs.delete(letGo[1]);
            this.letGo.add(jobId);
          }
        },
      ),
      received: new ProtocolReader(
        (line) => {
          const withBody = /^(?:RESERVED \d+|FOUND \d+|OK) (\d+)$/.exec(line);
          return withBody ? Number(withBody[1]) : undefined;
        },
        (line, body) => {
          const reserved = /^RESERVED (\d+) /.exec(line);
          const envelope = reserved?.[1] && body !== undefined ? decodeEnvelope(body) : null;
          if (reserved?.[1] && envelope) {
            jobs.set(reserved[1], envelope.id);
            this.delivered.set(envelope.id, this.deliveries(envelope.id) + 1);
            if (!this.firstDelivered.has(envelope.id)) this.firstDelivered.set(envelope.id, Date.now());
          }
        },
      ),
    };
    this.readers.set(connection, reader);
    return reader;
  }
}
