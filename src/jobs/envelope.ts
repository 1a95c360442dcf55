/**
 * The beanstalkd job body: `{"id":…,"type":…,"payload":"<the request body as text>"}`.
 * The payload travels as a JSON string so the worker hashes exactly the bytes the client
 * sent; the id lets anyone holding a beanstalkd id check which job it really is (beanstalkd
 * ids repeat after restarts, FACTS.md).
 */

export interface Envelope {
  id: string;
  type: string;
  payload: string;
}

export function encodeEnvelope(envelope: Envelope): string {
  return JSON.stringify({ id: envelope.id, type: envelope.type, payload: envelope.payload });
}

/** The envelope in a job body, or null when the body is not one of ours. */
export function decodeEnvelope(body: string): Envelope | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const { id, type, payload } = value as Record<string, unknown>;
  if (typeof id !== 'string' || typeof type !== 'string' || typeof payload !== 'string') return null;
  return { id, type, payload };
}
