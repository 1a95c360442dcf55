/**
 * Several beanstalkd servers as one queue (BEANSTALK_SERVERS, docs/architecture.md "Several
 * beanstalkd servers"): puts are spread over the servers in turn, a server whose put fails is
 * skipped for the next one (the answer is still one job), and everything that acts on a copy
 * already put addresses the server that holds it (`at`), since beanstalkd ids are per server.
 * The first server is the home of what must be in one place (the limits' token tubes).
 *
 * The set keeps, per server, since when it has been failing (`noteDown`/`noteUp`, fed by its
 * puts and by the manager's watch): a server down longer than `goneAfterMs` is **gone**, and the
 * reconciler puts the unfinished jobs it held onto the others.
 */
import { isQueueError, QueueError, QueueErrorCode } from './errors.js';
import {
  createQueueClient,
  type PutOptions,
  type QueueClient,
  type QueueClientOptions,
} from './queue-client.js';

/** Connection options for one server of a set, by its `host:port` (IPv6 hosts keep their colons). */
export function connectionTo<T extends { host: string; port: number }>(server: string, base: T): T {
  const colon = server.lastIndexOf(':');
  return { ...base, host: server.slice(0, colon), port: Number(server.slice(colon + 1)) };
}

/** Where a put landed. */
export interface Placed {
  server: string;
  beanstalkId: string;
}

export interface QueueSet {
  /** Every server, in the order configured; the first is the home (`home`). */
  readonly servers: readonly QueueClient[];
  /** The first server: the limits' token tubes live there, whatever the set's size. */
  readonly home: QueueClient;
  /** The client of a server by its `host:port`; null when it is not one of the set's. */
  at(server: string): QueueClient | null;
  /** The client holding a copy this set put (`put`'s answer): always one of the set's. */
  holder(placed: Placed): QueueClient;
  /**
   * Puts on the next server in turn, passing over servers seen failing while another is up; a
   * put refused outright (the server unreachable, its connection gone before the put was sent)
   * moves on to the next server. A put in doubt (sent, no answer: the job may be queued there)
   * and a job too big are thrown as they are: another server would make a second copy, or say
   * the same.
   */
  put(tube: string, body: string, options: PutOptions): Promise<Placed>;
  /** A server answered: it is up. */
  noteUp(server: string): void;
  /** A server failed to answer: it is down since its first failure in a row. */
  noteDown(server: string): void;
  /** True for a server down longer than `goneAfterMs`, and for one not in the set. */
  isGone(server: string, now?: number): boolean;
  /** The servers down now, with since when (ms since the epoch). */
  down(): Array<{ server: string; since: number }>;
  close(): Promise<void>;
}

export interface QueueSetOptions {
  /** One client per server; `createQueueSet` builds them from `hosts`. */
  clients: readonly QueueClient[];
  /** How long a server must have been failing to count as gone. */
  goneAfterMs: number;
}

/** The set over these servers, one client each. */
export function createQueueSet(
  hosts: ReadonlyArray<{ host: string; port: number }>,
  options: Omit<QueueClientOptions, 'host' | 'port'> & { goneAfterMs: number },
): QueueSet {
  const { goneAfterMs, ...clientOptions } = options;
  const clients = hosts.map(({ host, port }) => createQueueClient({ ...clientOptions, host, port }));
  return queueSetOf({ clients, goneAfterMs });
}

/** Failures after which the job is surely not queued on that server: another one may take it. */
const TRY_ANOTHER: ReadonlySet<QueueErrorCode> = new Set([
  QueueErrorCode.UNAVAILABLE,
  QueueErrorCode.TIMEOUT,
  QueueErrorCode.DRAINING,
  QueueErrorCode.SERVER_ERROR,
  QueueErrorCode.PUT_BURIED,
]);

function tryAnother(error: unknown): boolean {
  return isQueueError(error) && !error.inDoubt && TRY_ANOTHER.has(error.code);
}

export function queueSetOf(options: QueueSetOptions): QueueSet {
  const { clients, goneAfterMs } = options;
  if (clients.length === 0) throw new Error('a queue set needs at least one server');
  const byServer = new Map(clients.map((client) => [client.server, client]));
  if (byServer.size !== clients.length) throw new Error('a queue set names each server once');
  const downSince = new Map<string, number>();
  let turn = 0;

  function order(): readonly QueueClient[] {
    // One server: nothing to choose (the default path of every POST).
    if (clients.length === 1) return clients;
    const start = turn % clients.length;
    turn += 1;
    const rotated = [...clients.slice(start), ...clients.slice(0, start)];
    // Servers seen failing go last: tried only when every other one failed too.
    return [
      ...rotated.filter((c) => !downSince.has(c.server)),
      ...rotated.filter((c) => downSince.has(c.server)),
    ];
  }

  const set: QueueSet = {
    servers: clients,
    home: clients[0] as QueueClient,
    at: (server) => byServer.get(server) ?? null,
    holder(placed) {
      const client = byServer.get(placed.server);
      if (!client) throw new Error(`${placed.server} is not one of this set's servers`);
      return client;
    },

    async put(tube, body, putOptions) {
      let last: unknown;
      for (const client of order()) {
        try {
          const beanstalkId = await client.put(tube, body, putOptions);
          set.noteUp(client.server);
          return { server: client.server, beanstalkId };
        } catch (error: unknown) {
          // Out of memory, the server buried the job: not a copy to keep.
          const buried = isQueueError(error, QueueErrorCode.PUT_BURIED);
          if (buried && error.jobId !== undefined) await client.deleteJob(error.jobId).catch(() => undefined);
          if (!tryAnother(error) || clients.length === 1) throw error;
          if (!buried) set.noteDown(client.server);
          last = error;
        }
      }
      throw last instanceof QueueError
        ? last
        : new QueueError(QueueErrorCode.UNAVAILABLE, 'no beanstalkd server took the job', { cause: last });
    },

    noteUp(server) {
      downSince.delete(server);
    },
    noteDown(server) {
      if (!downSince.has(server)) downSince.set(server, Date.now());
    },
    isGone(server, now = Date.now()) {
      if (!byServer.has(server)) return true;
      const since = downSince.get(server);
      return since !== undefined && now - since >= goneAfterMs;
    },
    down: () => [...downSince].map(([server, since]) => ({ server, since })),

    async close() {
      await Promise.all(clients.map((client) => client.close()));
    },
  };
  return set;
}
