import { describe, expect, it } from 'vitest';
import { exponentialBackoff, PartylineError, PartylineErrorKind, retryDelayFor, toPartylineError } from '../src/index.js';

describe('exponentialBackoff (capped, full jitter)', () => {
  it('draws uniformly below a ceiling that doubles per attempt up to the cap', () => {
    const top = exponentialBackoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6, 20].map((attempt) => top(attempt))).toEqual([99, 199, 399, 799, 999, 999, 999]);
    const bottom = exponentialBackoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
    expect(bottom(7)).toBe(0);
  });

  it('by default waits at most 5 s, however long the failures went on (back within seconds of a heal)', () => {
    const top = exponentialBackoff({ random: () => 0.999999 });
    expect([1, 2, 5, 6, 50].map((attempt) => top(attempt))).toEqual([249, 499, 3999, 4999, 4999]);
  });

  it('spreads delays over the whole window (jitter), not around one value', () => {
    const policy = exponentialBackoff({ baseMs: 1000, maxMs: 1000 });
    const samples = Array.from({ length: 2000 }, () => policy(1));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(1000);
    expect(samples.filter((delay) => delay < 250).length).toBeGreaterThan(300);
    expect(samples.filter((delay) => delay >= 750).length).toBeGreaterThan(300);
  });

  it('never waits less than the relay asked for (retryAfterMs)', () => {
    const policy = exponentialBackoff({ baseMs: 100, maxMs: 1000, random: () => 0.5 });
    expect(retryDelayFor(policy, 1)).toBe(50);
    expect(retryDelayFor(policy, 1, 700)).toBe(700);
    expect(retryDelayFor(policy, 4, 10)).toBe(400);
  });
});

describe('toPartylineError', () => {
  it('keeps wire errors typed, including a connect error carrying one in data', () => {
    const wire = { kind: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 120 };
    expect(toPartylineError(wire)).toMatchObject({ kind: 'rate_limited', retryable: true, retryAfterMs: 120 });
    const connectError = Object.assign(new Error('unauthorized: bad'), { data: { kind: 'unauthorized', message: 'bad', retryable: false } });
    const error = toPartylineError(connectError);
    expect(error).toBeInstanceOf(PartylineError);
    expect(error).toMatchObject({ kind: PartylineErrorKind.Unauthorized, retryable: false });
  });

  it('maps Socket.IO timeouts and drops to retryable kinds, anything else to internal', () => {
    expect(toPartylineError(new Error('operation has timed out'))).toMatchObject({ kind: 'timeout', retryable: true });
    expect(toPartylineError(new Error('socket has been disconnected'))).toMatchObject({ kind: 'disconnected', retryable: true });
    expect(toPartylineError('weird')).toMatchObject({ kind: 'internal', retryable: false });
    const same = new PartylineError('expired', 'old');
    expect(toPartylineError(same)).toBe(same);
  });
});
