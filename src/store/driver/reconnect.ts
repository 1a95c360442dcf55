/**
 * Keeps a MongoClient connected through what the driver does not recover from by itself:
 *
 * - mongodb 7.x closes a client for good when its first connection attempt fails (seen here:
 *   every later operation then fails with "Topology is closed", even once the server is up).
 *   A manager or worker started before MongoDB would never recover. Such a client is
 *   connected again, with capped backoff, until it works or the store is closed.
 * - Its server monitor can stop bringing the server back: the chaos soak saw a manager whose
 *   every operation failed with the same "connection N to … closed" (server selection
 *   repeating the error its server description kept) for minutes after FerretDB was killed and
 *   started again, while every other process, on the same server, was back within a second.
 *   A client with no successful heartbeat for `silentAfterMs` (three heartbeats) is closed and
 *   connected again, as above. Until a heartbeat succeeds the driver sends no operation
 *   anyway (its server is Unknown), so a reset during a real outage costs nothing.
 */
import type { MongoClient } from 'mongodb';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The driver's heartbeat interval we ask for: a silent monitor is noticed within a few of them. */
export const HEARTBEAT_MS = 5000;

export interface KeepConnectingOptions {
  /** No successful heartbeat for this long: the client is closed and connected again. */
  silentAfterMs?: number;
  /** Told when a silent client is reset (for a log line). */
  onSilent?: (silentMs: number) => void;
}

/** What keepConnecting needs of a client: its events, close and connect. */
export type ReconnectableClient = Pick<MongoClient, 'on' | 'close' | 'connect'>;

/** Watches `client`; returns the function to call before closing it for good. */
export function keepConnecting(client: ReconnectableClient, options: KeepConnectingOptions = {}): () => void {
  const silentAfterMs = options.silentAfterMs ?? 3 * HEARTBEAT_MS;
  let closed = false;
  let reconnecting = false;
  let heardAt = Date.now();
  const heard = () => {
    heardAt = Date.now();
  };
  client.on('serverHeartbeatSucceeded', heard);
  /** Connects again with capped backoff until it works or the store is closed; one loop at a time. */
  function reconnect(): void {
    // A failed connect() below closes the topology again: one loop at a time handles it.
    if (closed || reconnecting) return;
    reconnecting = true;
    void (async () => {
      for (let attempt = 0; !closed; attempt += 1) {
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)));
        if (closed) break;
        try {
          await client.connect();
          // Closed while connecting: leave nothing open behind the store's back.
          if (closed) await client.close();
          break;
        } catch {
          // Still unreachable: the next attempt waits longer.
        }
      }
      heard();
      reconnecting = false;
    })();
  }
  client.on('topologyClosed', reconnect);
  const watchdog = setInterval(
    () => {
      const silentMs = Date.now() - heardAt;
      if (closed || reconnecting || silentMs < silentAfterMs) return;
      heard();
      options.onSilent?.(silentMs);
      // Its 'topologyClosed' starts the loop; a client that never opened a topology says
      // nothing, so the loop is started here too (a no-op when it runs already).
      void client
        .close()
        .catch(() => undefined)
        .then(reconnect);
    },
    Math.max(10, Math.min(1000, silentAfterMs / 4)),
  );
  watchdog.unref();
  return () => {
    closed = true;
    clearInterval(watchdog);
  };
}
