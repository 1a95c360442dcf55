/**
 * The signature on a webhook, as Stripe signs its own: `X-DW-Timestamp: <unix seconds>` and
 * `X-DW-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`, keyed with
 * WEBHOOK_SECRET. A receiver recomputes it over the bytes it received and compares in constant
 * time, and refuses old timestamps (replays); docs/completion-design.md shows how.
 */
import { createHmac } from 'node:crypto';

export const USER_AGENT = 'distributed-workers-webhooks/1';

/** `sha256=<hex>` of `"<timestamp>.<body>"` keyed with `secret`. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** Every header of one delivery attempt; the timestamp is this attempt's own. */
export function deliveryHeaders(options: {
  secret: string;
  body: string;
  deliveryId: string;
  now: Date;
}): Record<string, string> {
  const timestamp = Math.floor(options.now.getTime() / 1000);
  return {
    'Content-Type': 'application/json',
    'User-Agent': USER_AGENT,
    'X-DW-Delivery': options.deliveryId,
    'X-DW-Timestamp': String(timestamp),
    'X-DW-Signature': signature(options.secret, timestamp, options.body),
  };
}
