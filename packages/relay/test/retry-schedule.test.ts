import { describe, expect, it } from 'vitest';
import { RetrySchedule } from '../src/rate-limiter.js';

describe('RetrySchedule', () => {
  it('spreads a crowd of refusals over the time the limit needs to admit it', () => {
    let now = 0;
    const schedule = new RetrySchedule(500, () => now);
    const delays = Array.from({ length: 2000 }, () => schedule.next(2));
    // The k-th refusal comes back k / 500 s later: the last of 2,000 after 4 s, none at the same instant as its neighbour.
    expect(delays[0]).toBe(2);
    expect(delays[499]).toBe(1000);
    expect(delays[1999]).toBe(4000);
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
  });

  it('drains the backlog at the admitted rate, so a later refusal is not sent behind a crowd that has gone', () => {
    let now = 0;
    const schedule = new RetrySchedule(500, () => now);
    for (let i = 0; i < 1000; i++) schedule.next(2);
    now = 1000; // half the backlog admitted
    expect(schedule.next(2)).toBe(1002);
    now = 10_000;
    expect(schedule.next(2)).toBe(2);
  });
});
