import { describe, expect, it } from 'vitest';
import { runFuzz } from '../fuzz/relay-fuzzer.js';

// A short seeded run of `npm run fuzz` (which tries 12,000 inputs by default).
describe('bad input against live relay processes', () => {
  it('never crashes a relay, answers every request with a success or a typed error, and keeps room logs intact', { timeout: 120_000 }, async () => {
    const stats = await runFuzz({ inputs: 1500, seed: 7 });
    expect(stats.tried).toBeGreaterThanOrEqual(1500);
    expect(stats.crashes).toBe(0);
    expect(stats.untypedRejections).toBe(0);
    expect(stats.corruptLogs).toBe(0);
    expect(stats.logsChecked).toBe(3);
    // The run exercised both sides: some inputs were valid, most were refused with typed errors.
    expect(stats.accepted).toBeGreaterThan(0);
    expect(stats.typedRejections).toBeGreaterThan(stats.accepted);
  });
});
