/**
 * WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE) and WEBHOOK_URLS, checked without ever echoing the
 * secret or a URL's query (it may carry a token).
 */
import { JOB_TYPE } from '../handlers/index.js';
import { checkCallbackUrl, urlForLogs } from '../webhooks/address-policy.js';
import type { SettingsReader } from './reader.js';
import { MANAGER_WEBHOOK_SETTINGS, SHARED_WEBHOOK_SETTINGS } from './webhook-settings.js';

/** Shortest secret accepted: a guessable key would make signatures worthless. */
export const MIN_SECRET_LENGTH = 16;

/** The secret ('' when webhooks are off), from the variable or the file, never both. */
export function readWebhookSecret(r: SettingsReader, readFile: (path: string) => string): string {
  const { WEBHOOK_SECRET, WEBHOOK_SECRET_FILE } = SHARED_WEBHOOK_SETTINGS;
  let value = r.read(WEBHOOK_SECRET);
  const file = r.read(WEBHOOK_SECRET_FILE);
  if (file !== '') {
    if (value !== '') r.problems.push('WEBHOOK_SECRET and WEBHOOK_SECRET_FILE are both set; set one');
    try {
      value = readFile(file).replace(/\r?\n$/, '');
    } catch {
      r.problems.push(`WEBHOOK_SECRET_FILE ${JSON.stringify(file)} cannot be read`);
      return '';
    }
    if (value === '') r.problems.push(`WEBHOOK_SECRET_FILE ${JSON.stringify(file)} is empty`);
  }
  if (value !== '' && value.length < MIN_SECRET_LENGTH)
    r.problems.push(
      `WEBHOOK_SECRET must be at least ${MIN_SECRET_LENGTH} characters (its value is not shown)`,
    );
  return value;
}

/** WEBHOOK_URLS as type → URL, each URL checked as a client's `callback_url` would be. */
export function readWebhookUrls(
  r: SettingsReader,
  secret: string,
  allowPrivate: boolean,
): Readonly<Record<string, string>> {
  const pairs = r.read(MANAGER_WEBHOOK_SETTINGS.WEBHOOK_URLS);
  const urls: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    const type = pair.slice(0, equals);
    const text = pair.slice(equals + 1);
    if (equals < 0 || !JOB_TYPE.test(type)) continue; // reported by the list's own check
    if (Object.hasOwn(urls, type)) r.problems.push(`WEBHOOK_URLS names type ${type} twice`);
    const check = checkCallbackUrl(text, allowPrivate);
    if (!check.ok) {
      r.problems.push(`WEBHOOK_URLS for ${type} (${urlForLogs(text)}): ${check.problem}`);
      continue;
    }
    urls[type] = check.url.href;
  }
  if (Object.keys(urls).length > 0 && secret === '')
    r.problems.push('WEBHOOK_URLS needs WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE): every webhook is signed');
  return urls;
}
