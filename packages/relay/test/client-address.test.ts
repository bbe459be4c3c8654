/**
 * Which address per-address limits count a request under: the TCP peer, or — from a trusted proxy —
 * the rightmost untrusted X-Forwarded-For hop. What a client writes into the header itself never counts.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, isTrustedProxy, proxyTrust } from '../src/admission.js';
import { ConfigError, parseCli } from '../src/config.js';
import { TEST_SECRET } from './support/harness.js';

const requestFrom = (peer: string, forwardedFor?: string) =>
  ({ socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it('is the TCP peer when no proxy is trusted, whatever the header says', () => {
    expect(clientAddress(requestFrom('203.0.113.7', '198.51.100.1'), undefined)).toBe('203.0.113.7');
    expect(clientAddress(requestFrom('203.0.113.7', '198.51.100.1'), proxyTrust(0))).toBe('203.0.113.7');
    expect(clientAddress(requestFrom('203.0.113.7', '198.51.100.1'), proxyTrust([]))).toBe('203.0.113.7');
  });

  it('with a hop count, skips that many proxies from the right', () => {
    const one = proxyTrust(1);
    const two = proxyTrust(2);
    expect(clientAddress(requestFrom('10.0.0.5', '198.51.100.1'), one)).toBe('198.51.100.1');
    // The client sent its own X-Forwarded-For; nginx appended the address it really saw.
    expect(clientAddress(requestFrom('10.0.0.5', '127.0.0.1, 6.6.6.6, 198.51.100.1'), one)).toBe('198.51.100.1');
    expect(clientAddress(requestFrom('10.0.0.5', '127.0.0.1, 198.51.100.1, 10.0.0.9'), two)).toBe('198.51.100.1');
    // Fewer hops than trusted: the furthest one there is.
    expect(clientAddress(requestFrom('10.0.0.5', '198.51.100.1'), two)).toBe('198.51.100.1');
    // No header: the proxy itself (a health check it makes).
    expect(clientAddress(requestFrom('10.0.0.5'), one)).toBe('10.0.0.5');
  });

  it('with addresses and CIDRs, walks from the right past trusted proxies to the first untrusted hop', () => {
    const trust = proxyTrust(['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8']);
    expect(clientAddress(requestFrom('127.0.0.1', '198.51.100.1'), trust)).toBe('198.51.100.1');
    expect(clientAddress(requestFrom('10.1.2.3', '198.51.100.1, 10.9.9.9'), trust)).toBe('198.51.100.1');
    // Spoofed entries on the left are never reached.
    expect(clientAddress(requestFrom('127.0.0.1', '10.0.0.1, 127.0.0.1, 198.51.100.1'), trust)).toBe('198.51.100.1');
    // IPv6 proxies and clients; an IPv4-mapped peer matches an IPv4 entry.
    expect(clientAddress(requestFrom('fd12::1', '2001:db8::7'), trust)).toBe('2001:db8::7');
    expect(clientAddress(requestFrom('::ffff:127.0.0.1', '2001:db8::7'), trust)).toBe('2001:db8::7');
    // Every hop trusted: the furthest.
    expect(clientAddress(requestFrom('127.0.0.1', '10.0.0.8, 10.0.0.9'), trust)).toBe('10.0.0.8');
  });

  it('ignores the header when the TCP peer is not a trusted proxy', () => {
    const trust = proxyTrust(['127.0.0.1/32']);
    expect(clientAddress(requestFrom('198.51.100.1', '127.0.0.2'), trust)).toBe('198.51.100.1');
    expect(isTrustedProxy('198.51.100.1', trust)).toBe(false);
    expect(isTrustedProxy('127.0.0.1', trust)).toBe(true);
    expect(isTrustedProxy('anything', proxyTrust(1))).toBe(true);
  });

  it('reads ports off hops, and stops at junk at the last real hop (junk cannot mint new addresses)', () => {
    const trust = proxyTrust(1);
    expect(clientAddress(requestFrom('10.0.0.5', '198.51.100.1:5123'), trust)).toBe('198.51.100.1');
    expect(clientAddress(requestFrom('10.0.0.5', '[2001:db8::7]:443'), trust)).toBe('2001:db8::7');
    expect(clientAddress(requestFrom('10.0.0.5', 'unknown'), trust)).toBe('10.0.0.5');
    expect(clientAddress(requestFrom('10.0.0.5', `x${Math.random()}, 198.51.100.1`), proxyTrust(2))).toBe('198.51.100.1');
    expect(clientAddress(requestFrom('10.0.0.5', ''), trust)).toBe('10.0.0.5');
  });

  it('refuses settings that are neither a hop count nor addresses/CIDRs', () => {
    for (const bad of [['10.0.0.0/33'], ['::1/129'], ['relay-a'], ['10.0.0.0/8/1'], ['10.0.0.0/']]) expect(() => proxyTrust(bad)).toThrow(RangeError);
    expect(() => proxyTrust(-1)).toThrow(RangeError);
  });
});

describe('--trust-proxy', () => {
  const parse = (value: string) => {
    const parsed = parseCli(['--token-secret', TEST_SECRET, '--trust-proxy', value], {});
    if (parsed.help) throw new Error('help');
    return parsed.config.relay.trustProxy;
  };

  it('takes a hop count or a comma list (flag or TRUST_PROXY), and is off by default', () => {
    expect(parse('1')).toBe(1);
    expect(parse('127.0.0.1/32, 10.0.0.0/8,::1')).toEqual(['127.0.0.1/32', '10.0.0.0/8', '::1']);
    const fromEnv = parseCli(['--token-secret', TEST_SECRET], { TRUST_PROXY: '2' });
    expect(!fromEnv.help && fromEnv.config.relay.trustProxy).toBe(2);
    const off = parseCli(['--token-secret', TEST_SECRET], {});
    expect(!off.help && off.config.relay.trustProxy).toBeUndefined();
  });

  it('names a bad entry', () => {
    expect(() => parse('10.0.0.0/8,nginx')).toThrow(ConfigError);
    expect(() => parse('10.0.0.0/8,nginx')).toThrow(/--trust-proxy: "nginx" is not an IPv4\/IPv6 address or CIDR/);
  });
});
