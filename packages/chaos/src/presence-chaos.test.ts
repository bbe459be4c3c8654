import { describe, expect, it } from 'vitest';
import { runChaos } from './run-chaos.js';

// A short seeded `npm run chaos -- --presence` (the long one: --clients 100 --duration 60 --presence).
describe('presence under chaos', () => {
  it('shows every member who is there and nobody else, with no flaps, through cuts, restarts, relay kills and drains and a Redis pause', { timeout: 120_000 }, async () => {
    const report = await runChaos({
      clients: 12,
      relays: 2,
      durationSeconds: 10,
      seed: 21,
      membersPerRoom: 6,
      publishEveryMs: [500, 1500],
      presence: true,
      faults: ['client-restart', 'network-cut', 'relay-kill', 'relay-drain', 'redis-pause'],
    });
    const presence = report.presence!;
    expect(presence.examples).toEqual([]);
    expect(presence).toMatchObject({ settled: true, ghosts: 0, missing: 0, staleData: 0, flaps: 0, unexplainedLeaves: 0, relayGhosts: 0, relayMissing: 0 });
    expect(presence.observers).toBe(12);
    // Every member saw the room fill up at least. (A restart shows a leave only if the member had no
    // other lease still in its grace, e.g. from a token refresh just before: not asserted.)
    expect(presence.events).toBeGreaterThan(12);
    // Presence rides along: the messages are still exact.
    expect(report.examples).toEqual([]);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, reordered: 0, divergedSilently: 0, resetsUnexplained: 0, quiesced: true });
  });
});
