/**
 * A job's callback URL at POST time: the client's `callback_url` (query or
 * `X-Job-Callback-Url`), else its type's WEBHOOK_URLS default, checked against the address
 * policy (webhooks/address-policy.ts) before anything is stored or queued. The URL kept is
 * the parsed one (`2130706433` reads as `127.0.0.1`), the address every later check sees.
 */
import { AppError, ErrorCode } from '../../../errors.js';
import { checkCallbackUrl } from '../../../webhooks/address-policy.js';

/** What a manager's config says about webhooks (ManagerConfig.webhooks). */
export interface WebhookPolicy {
  /** WEBHOOK_SECRET is set: callback URLs are accepted. */
  enabled: boolean;
  /** WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  /** WEBHOOK_URLS: type → URL (checked at start). */
  urls: Readonly<Record<string, string>>;
}

/** Webhooks off: what a manager without WEBHOOK_SECRET (or a test app without a policy) has. */
export const NO_WEBHOOKS: WebhookPolicy = Object.freeze({ enabled: false, allowPrivate: false, urls: {} });

/** The job's callback URL, undefined for none; a bad one is 400 INVALID_CALLBACK_URL. */
export function resolveCallback(
  type: string,
  given: string | undefined,
  policy: WebhookPolicy = NO_WEBHOOKS,
): string | undefined {
  if (given === undefined) return Object.hasOwn(policy.urls, type) ? policy.urls[type] : undefined;
  if (!policy.enabled)
    throw new AppError(
      ErrorCode.WEBHOOKS_DISABLED,
      'this manager takes no callback_url: WEBHOOK_SECRET is not set, and every webhook is signed',
    );
  const check = checkCallbackUrl(given, policy.allowPrivate);
  if (!check.ok) throw new AppError(ErrorCode.INVALID_CALLBACK_URL, check.problem);
  return check.url.href;
}
