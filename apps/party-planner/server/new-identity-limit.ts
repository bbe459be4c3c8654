import { isIPv4, isIPv6 } from 'node:net';

/**
 * How many new identities one network address may get: a token bucket per address, holding
 * `perHour` and refilled at `perHour` an hour. A browser that already has an identity is never
 * limited; this only prices fake voters (a script clearing its cookies to vote again), it does not
 * stop them: a party's link is its invitation, and anyone holding it may join.
 *
 * IPv6 addresses count per /64 (one home or phone usually holds a whole /64).
 */
export interface NewIdentityLimit {
  /** Takes one new identity for `address`; when none is left, how long until one is. */
  take(address: string, now?: number): { ok: true } | { ok: false; retryAfterMs: number };
}

/** Most addresses remembered at once; beyond it, full buckets are forgotten (they hold nothing to remember). */
const MAX_ADDRESSES = 10_000;

/** The key an address counts under: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address) || !isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}

export function createNewIdentityLimit(perHour: number): NewIdentityLimit {
  const perMs = perHour / 3_600_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const level = (bucket: { tokens: number; at: number }, now: number) => Math.min(perHour, bucket.tokens + (now - bucket.at) * perMs);
  return {
    take(address, now = Date.now()) {
      const key = addressKey(address);
      const bucket = buckets.get(key);
      const tokens = bucket ? level(bucket, now) : perHour;
      if (tokens < 1) return { ok: false, retryAfterMs: Math.ceil((1 - tokens) / perMs) };
      if (!bucket && buckets.size >= MAX_ADDRESSES) {
        for (const [other, held] of buckets) if (level(held, now) >= perHour) buckets.delete(other);
        // Still full: the oldest tenth goes (Map order is insertion order), so the next sweep is far off.
        for (const other of buckets.keys()) {
          if (buckets.size < MAX_ADDRESSES * 0.9) break;
          buckets.delete(other);
        }
      }
      buckets.set(key, { tokens: tokens - 1, at: now });
      return { ok: true };
    },
  };
}
