/**
 * Where a webhook may go: http or https, no userinfo, at most 2,048 characters, and — unless
 * WEBHOOK_ALLOW_PRIVATE=true — only a public address: no loopback, private, link-local,
 * unique-local, CGNAT, multicast, unspecified, reserved, documentation or cloud-metadata
 * address, in IPv4 or IPv6 (an IPv4-mapped IPv6 address is judged by its IPv4 part). The URL
 * parser (WHATWG) turns `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` into
 * `127.0.0.1` before any check, so every spelling of an address is judged as that address.
 * Checked on the literal host at POST time, and again on every resolved address at delivery
 * (deliver.ts), so a name that resolves to a private address later (DNS rebinding) is refused
 * where it is connected to. Imports nothing of ours: config/ uses it at start.
 */
import { BlockList, isIP } from 'node:net';

/** Longest callback URL accepted. */
export const MAX_CALLBACK_URL_LENGTH = 2048;

const blockedV4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT (and Alibaba's metadata, 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (and the metadata address 169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments (Oracle's metadata, 192.0.0.192)
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast 255.255.255.255
  ['168.63.129.16', 32], // Azure's platform endpoint (metadata and DNS)
] as const) {
  blockedV4.addSubnet(network, prefix, 'ipv4');
}

/** IPv6 outside global unicast (2000::/3) is refused outright: loopback, unspecified, ULA, link-local, multicast, NAT64, … */
const globalUnicast = new BlockList();
globalUnicast.addSubnet('2000::', 3, 'ipv6');
const blockedV6 = new BlockList();
for (const [network, prefix] of [
  ['2001::', 23], // IETF protocol assignments: Teredo, ORCHID, benchmarking, …
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: carries an IPv4 address of any kind
  ['3fff::', 20], // documentation
] as const) {
  blockedV6.addSubnet(network, prefix, 'ipv6');
}
const ipv4Mapped = new BlockList();
ipv4Mapped.addSubnet('::ffff:0:0', 96, 'ipv6');

/** True when `address` (an IP literal, IPv6 without brackets) is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 4) return !blockedV4.check(ip, 'ipv4');
  if (family !== 6) return false;
  // Node's BlockList checks an IPv4-mapped IPv6 address against the IPv4 rules.
  if (ipv4Mapped.check(ip, 'ipv6')) return !blockedV4.check(ip, 'ipv6');
  return globalUnicast.check(ip, 'ipv6') && !blockedV6.check(ip, 'ipv6');
}

/** A URL host without the brackets of an IPv6 literal. */
export function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** Names that mean this machine whatever DNS says. */
function isLocalName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === 'localhost.localdomain';
}

/** A URL fit to deliver to, or why not (`nonPublic`: its host is a local name or a non-public address). */
export type UrlCheck = { ok: true; url: URL } | { ok: false; problem: string; nonPublic?: true };

/**
 * Checks a callback URL as given (before any DNS): its shape, and its host when the host is
 * an address or a local name. `allowPrivate` lets private and loopback hosts through
 * (WEBHOOK_ALLOW_PRIVATE=true), never another scheme or userinfo.
 */
export function checkCallbackUrl(text: string, allowPrivate: boolean): UrlCheck {
  if (text.length === 0) return { ok: false, problem: 'callback_url is empty' };
  if (text.length > MAX_CALLBACK_URL_LENGTH)
    return { ok: false, problem: `callback_url is longer than ${MAX_CALLBACK_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: 'callback_url is not an absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, problem: 'callback_url must be an http or https URL' };
  if (url.username !== '' || url.password !== '')
    return { ok: false, problem: 'callback_url must not carry a user name or password (user:pass@)' };
  const host = bareHost(url.hostname);
  if (host === '') return { ok: false, problem: 'callback_url has no host' };
  if (!allowPrivate) {
    if (isLocalName(host))
      return {
        ok: false,
        nonPublic: true,
        problem: 'callback_url names this machine (localhost); WEBHOOK_ALLOW_PRIVATE is off',
      };
    if (isIP(host) !== 0 && !isPublicAddress(host))
      return {
        ok: false,
        nonPublic: true,
        problem:
          'callback_url is a loopback, private, link-local or otherwise non-public address; WEBHOOK_ALLOW_PRIVATE is off',
      };
  }
  return { ok: true, url };
}

/** The part of a URL fit for a log line: scheme, host and port, never the path's tokens or the query. */
export function urlForLogs(url: string): string {
  try {
    const { protocol, host } = new URL(url);
    return `${protocol}//${host}`;
  } catch {
    return '(unparseable URL)';
  }
}
