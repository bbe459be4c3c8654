import { describe, expect, it } from 'vitest';
import { countdown, parsePartyDate } from './countdown.js';

describe('countdown', () => {
  it('parses dates and date-times in local time; rejects nonsense', () => {
    expect(parsePartyDate('2031-06-14T20:30')?.getHours()).toBe(20);
    expect(parsePartyDate('2031-06-14')?.getHours()).toBe(19);
    expect(parsePartyDate('2031-02-30')).toBeUndefined();
    expect(parsePartyDate('next friday')).toBeUndefined();
  });

  it('splits the time left into days, hours, minutes, seconds', () => {
    const now = new Date(2031, 5, 10, 18, 0, 0);
    expect(countdown(new Date(2031, 5, 14, 19, 30, 15), now)).toEqual({ days: 4, hours: 1, minutes: 30, seconds: 15, started: false });
    expect(countdown(new Date(2031, 5, 10, 17, 0, 0), now)).toEqual({ days: 0, hours: 0, minutes: 0, seconds: 0, started: true });
  });
});
