import { describe, expect, it } from 'vitest';
import { median, noiseFloor, spread, verdict } from '../src/stats.js';

describe('median and spread', () => {
  it('takes the middle of an odd count and the mean of the middle two of an even one', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('skips NaN and answers NaN for nothing', () => {
    expect(median([Number.NaN, 2, 4])).toBe(3);
    expect(median([])).toBeNaN();
    expect(spread([])).toEqual({ median: Number.NaN, min: Number.NaN, max: Number.NaN });
  });

  it('gives min and max next to the median', () => {
    expect(spread([10, 30, 20, 50, 40])).toEqual({ median: 30, min: 10, max: 50 });
  });
});

describe('noiseFloor', () => {
  it('is the median factor between consecutive baseline runs, whichever is larger', () => {
    // Factors apart: 1.1, 1.1, 1.25, 1.0 → median 1.1
    expect(noiseFloor([100, 110, 100, 125, 125])).toBeCloseTo(1.1, 10);
  });

  it('is NaN with fewer than two usable runs', () => {
    expect(noiseFloor([100])).toBeNaN();
    expect(noiseFloor([0, 100, 0])).toBeNaN();
  });
});

describe('verdict', () => {
  it('calls a ratio within the noise floor a tie, either way', () => {
    expect(verdict(1.08, 1.1, 'higher')).toBe('tie');
    expect(verdict(1 / 1.08, 1.1, 'higher')).toBe('tie');
  });

  it('judges a ratio outside the noise floor by the figure\'s direction', () => {
    expect(verdict(1.3, 1.1, 'higher')).toBe('better');
    expect(verdict(1.3, 1.1, 'lower')).toBe('worse');
    expect(verdict(0.7, 1.1, 'lower')).toBe('better');
    expect(verdict(0.7, 1.1, 'higher')).toBe('worse');
  });

  it('claims no tie without a noise floor, and judges nothing without a ratio', () => {
    expect(verdict(1.01, Number.NaN, 'higher')).toBe('better');
    expect(verdict(Number.NaN, 1.1, 'higher')).toBe('n/a');
    expect(verdict(0, 1.1, 'higher')).toBe('n/a');
  });
});
