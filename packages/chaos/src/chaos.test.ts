import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from './faults.js';
import { runChaos } from './run-chaos.js';

// A short seeded run of `npm run chaos` (the long one: --clients 200 --relays 3 --duration 60).
describe('chaos run', () => {
  it('loses, duplicates and reorders nothing under every kind of fault', { timeout: 240_000 }, async () => {
    const report = await runChaos({ clients: 24, browsers: 1, relays: 3, durationSeconds: 45, seed: 7, membersPerRoom: 6, publishEveryMs: [300, 1200] });
    for (const kind of [...FAULT_KINDS, 'token-expiry'] as const) expect(report.faults[kind], kind).toBeGreaterThan(0);
    expect(report.examples).toEqual([]);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, reordered: 0, quiesced: true });
    expect(report.published).toBeGreaterThan(100);
    expect(report.appended).toBeGreaterThanOrEqual(report.published);
    expect(report.delivered).toBeGreaterThanOrEqual(report.appended);
  });

  it('loses and duplicates nothing through a rolling restart of every relay under load', { timeout: 180_000 }, async () => {
    const report = await runChaos({ clients: 30, relays: 3, durationSeconds: 20, seed: 11, faults: ['rolling-restart'], publishEveryMs: [200, 800] });
    expect(report.faults['rolling-restart']).toBe(1);
    expect(report.examples).toEqual([]);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, reordered: 0, quiesced: true });
  });
});
