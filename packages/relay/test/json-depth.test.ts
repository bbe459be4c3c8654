/**
 * The nesting scan agrees with the real depth of any JSON text, brackets inside strings and escaped
 * quotes included, and stays linear on text built to make a scanner rescan.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonNestsDeeperThan } from '../src/json-depth.js';

function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value !== null && typeof value === 'object') return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

/** Strings full of what a scanner could mistake for structure. */
const tricky = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ',') });
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(tricky, tie('node'), { maxKeys: 3 })),
})).node;

describe('jsonNestsDeeperThan', () => {
  it('agrees with the depth of the parsed value, for every limit', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 5 }), fc.boolean(), (json, limit, pretty) => {
        const text = pretty ? JSON.stringify(json, null, 2) : JSON.stringify(json);
        expect(jsonNestsDeeperThan(text, limit)).toBe(depthOf(json) > limit);
      }),
      { numRuns: 2_000 },
    );
  });

  it('finds deep nesting at once and crosses long escape runs in linear time', () => {
    expect(jsonNestsDeeperThan('['.repeat(550_000) + ']'.repeat(550_000))).toBe(true);
    expect(jsonNestsDeeperThan('['.repeat(64) + ']'.repeat(64))).toBe(false);
    expect(jsonNestsDeeperThan('['.repeat(65) + ']'.repeat(65))).toBe(true);
    // Brackets hidden in a string of escaped quotes and backslashes do not count; the ones after it do.
    const hidden = JSON.stringify(['\\"'.repeat(200_000) + '['.repeat(100)]);
    expect(jsonNestsDeeperThan(hidden)).toBe(false);
    // A million backslashes: a scanner that rescanned runs would not finish within the test's timeout.
    expect(jsonNestsDeeperThan(`[${JSON.stringify('\\'.repeat(1_000_000))},${'['.repeat(70)}${']'.repeat(70)}]`)).toBe(true);
  });
});
