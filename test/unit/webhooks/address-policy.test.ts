/** Where a webhook may go: every spelling of a non-public address is refused, public hosts pass. */
import assert from 'node:assert/strict';
import { checkCallbackUrl, isPublicAddress, urlForLogs } from '../../../src/webhooks/address-policy.js';

const HOSTILE: ReadonlyArray<[string, string]> = [
  ['http://127.0.0.1/hook', 'loopback'],
  ['http://127.1/hook', 'short loopback'],
  ['http://2130706433/hook', 'decimal loopback'],
  ['http://0x7f000001/hook', 'hex loopback'],
  ['http://0177.0.0.1/hook', 'octal loopback'],
  ['http://[::1]/hook', 'IPv6 loopback'],
  ['http://[::ffff:127.0.0.1]/hook', 'IPv4-mapped loopback'],
  ['http://[::ffff:7f00:1]/hook', 'IPv4-mapped loopback, hex'],
  ['http://[::ffff:10.0.0.1]/hook', 'IPv4-mapped private'],
  ['http://10.1.2.3/hook', 'private 10/8'],
  ['http://172.16.0.1/hook', 'private 172.16/12'],
  ['http://172.31.255.255/hook', 'private 172.16/12, top'],
  ['http://192.168.1.1/hook', 'private 192.168/16'],
  ['http://169.254.169.254/latest/meta-data', 'cloud metadata'],
  ['http://100.64.0.1/hook', 'CGNAT'],
  ['http://100.100.100.200/hook', 'CGNAT (a metadata address)'],
  ['http://[fc00::1]/hook', 'unique-local'],
  ['http://[fd00:ec2::254]/hook', 'unique-local (a metadata address)'],
  ['http://[fe80::1]/hook', 'link-local'],
  ['http://[ff02::1]/hook', 'IPv6 multicast'],
  ['http://224.0.0.1/hook', 'multicast'],
  ['http://0.0.0.0/hook', 'unspecified'],
  ['http://0/hook', 'unspecified, short'],
  ['http://[::]/hook', 'IPv6 unspecified'],
  ['http://255.255.255.255/hook', 'broadcast'],
  ['http://[64:ff9b::7f00:1]/hook', 'NAT64 of loopback'],
  ['http://[2002:7f00:1::]/hook', '6to4 of loopback'],
  ['http://localhost/hook', 'localhost'],
  ['http://LOCALHOST./hook', 'localhost, upper case with a dot'],
  ['http://api.localhost/hook', 'a localhost subdomain'],
];

const MALFORMED: ReadonlyArray<[string, string]> = [
  ['file:///etc/passwd', 'file:'],
  ['ftp://example.com/x', 'ftp:'],
  ['javascript:alert(1)', 'javascript:'],
  ['gopher://example.com/', 'gopher:'],
  ['http://user:pass@example.com/hook', 'userinfo'],
  ['https://user@example.com/hook', 'a user name alone'],
  [`https://example.com/${'a'.repeat(2048)}`, 'longer than 2,048'],
  ['example.com/hook', 'not absolute'],
  ['', 'empty'],
  ['http://exa mple.com/', 'a space in the host'],
];

describe('webhook address policy', () => {
  for (const [url, what] of HOSTILE) {
    it(`when the callback URL is ${what} (${url.slice(0, 60)}), then it is refused as non-public, and allowed with WEBHOOK_ALLOW_PRIVATE`, () => {
      const check = checkCallbackUrl(url, false);
      assert.equal(check.ok, false);
      assert.equal(!check.ok && check.nonPublic, true, JSON.stringify(check));
      assert.equal(checkCallbackUrl(url, true).ok, true);
    });
  }

  for (const [url, what] of MALFORMED) {
    it(`when the callback URL is ${what}, then it is refused even with WEBHOOK_ALLOW_PRIVATE`, () => {
      for (const allowPrivate of [false, true]) {
        const check = checkCallbackUrl(url, allowPrivate);
        assert.equal(check.ok, false, `${url} allowPrivate=${allowPrivate}`);
        assert.equal(!check.ok && check.nonPublic, undefined);
      }
    });
  }

  it('when the callback URL is a public host or address, then it is accepted as the parser reads it', () => {
    for (const url of [
      'https://example.com/hooks/dw?token=abc',
      'http://hooks.example.org:8080/x',
      'https://8.8.8.8/hook',
      'https://[2606:4700:4700::1111]/hook',
      'http://[::ffff:8.8.8.8]/hook',
      'https://172.32.0.1/just-outside-172.16/12',
      'https://100.128.0.1/just-outside-CGNAT',
    ]) {
      const check = checkCallbackUrl(url, false);
      assert.ok(check.ok, `${url}: ${JSON.stringify(check)}`);
    }
    const long = `https://example.com/${'a'.repeat(2048 - 'https://example.com/'.length)}`;
    assert.equal(long.length, 2048);
    assert.ok(checkCallbackUrl(long, false).ok, 'exactly 2,048 characters is allowed');
  });

  it('when resolved addresses are judged, then private ones of either family are refused and public ones pass', () => {
    for (const ip of [
      '127.0.0.1',
      '10.0.0.1',
      '::1',
      '::ffff:192.168.0.1',
      'fe80::1%eth0',
      '0.0.0.0',
      'not-an-ip',
    ])
      assert.equal(isPublicAddress(ip), false, ip);
    for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      assert.equal(isPublicAddress(ip), true, ip);
  });

  it('when a URL is logged, then only its scheme, host and port are shown', () => {
    assert.equal(urlForLogs('https://example.com:8443/path/secret?token=abc#x'), 'https://example.com:8443');
    assert.equal(urlForLogs('::nonsense'), '(unparseable URL)');
  });
});
