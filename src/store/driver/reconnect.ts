/**
 * mongodb 7.x closes a client for good when its first connection attempt fails (seen here:
 * every later operation then fails with "Topology is closed", even once the server is up).
 * A manager or worker started before MongoDB would never recover. This connects such a
 * client again, with capped backoff, until it works or the store is closed.
 */
import type { MongoClient } from 'mongodb';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Watches `client`; returns the function to call before closing it for good. */
export function keepConnecting(client: MongoClient): () => void {
  let closed = false;
  let reconnecting = false;
  client.on('topologyClosed', () => {
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
      reconnecting = false;
    })();
  });
  return () => {
    closed = true;
  };
}
