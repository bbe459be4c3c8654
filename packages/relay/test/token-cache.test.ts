/**
 * The verified-token cache: a token presented by many connections at once is checked once; failures
 * are never remembered; a remembered token still expires at its `exp`.
 */
import { ErrorKind } from '@partyline/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { secretKey, signAccessToken } from '@partyline/server';
import { cachingVerifier, type TokenPolicy } from '../src/tokens.js';
import { TEST_SECRET } from './support/harness.js';

const secret = secretKey(TEST_SECRET);

/** A policy whose HS256 key is read through a counter (jose reads the key once per verification). */
function countingPolicy(): { policy: TokenPolicy; checks: () => number } {
  let checks = 0;
  const policy = { maxTokenAgeSeconds: 86_400 } as TokenPolicy;
  Object.defineProperty(policy, 'secret', {
    get: () => {
      checks++;
      return secret;
    },
  });
  return { policy, checks: () => checks };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('cachingVerifier', () => {
  it('checks a token presented by 500 connections at once a single time', async () => {
    const { policy, checks } = countingPolicy();
    const verify = cachingVerifier(policy);
    const token = await signAccessToken({ sub: 'ana', rooms: ['party:*'] }, TEST_SECRET);
    const results = await Promise.all(Array.from({ length: 500 }, () => verify(token)));
    expect(results.every((result) => result.ok && result.claims.sub === 'ana')).toBe(true);
    const afterBurst = checks();
    expect(afterBurst).toBeLessThanOrEqual(2); // one verification (it reads the key twice)
    await verify(token);
    expect(checks()).toBe(afterBurst);
    const other = await signAccessToken({ sub: 'bob', rooms: ['party:*'] }, TEST_SECRET);
    await verify(other);
    expect(checks()).toBeGreaterThan(afterBurst);
  });

  it('never remembers a refusal', async () => {
    const verify = cachingVerifier({ secret, maxTokenAgeSeconds: 86_400 });
    const forged = await signAccessToken({ sub: 'ana', rooms: ['*'] }, 'another-secret-another-secret-another!');
    expect(await verify(forged)).toMatchObject({ ok: false, error: { kind: ErrorKind.Unauthorized } });
    expect(await verify(forged)).toMatchObject({ ok: false, error: { kind: ErrorKind.Unauthorized } });
  });

  it('lets a remembered token expire at its exp', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const verify = cachingVerifier({ secret, maxTokenAgeSeconds: 86_400 });
    const token = await signAccessToken({ sub: 'ana', rooms: ['party:*'], ttlSeconds: 30 }, TEST_SECRET);
    expect((await verify(token)).ok).toBe(true);
    vi.setSystemTime(Date.now() + 31_000);
    expect(await verify(token)).toMatchObject({ ok: false, error: { kind: ErrorKind.TokenExpired } });
  });
});
