/**
 * Regression test (found in review, issue 11: multi-tab leadership): tab-coordinator.ts keeps `busySince` per room
 * from the first time a tab found the room busy and deletes it only when that tab later leads the
 * room itself (tab-coordinator.ts:87/90). In the common two-tab case the loser's next flush finds
 * the outbox empty (the winner sent everything) and never calls lead() again, so the stale mark
 * stays. Much later, the first time it finds the room busy again — a healthy, short pass of the
 * other tab — it steals at once (`steal: true`), aborting the other tab's lock while its pass
 * still runs: two flushers for every such publish, and the "taken over only when stuck for
 * stealAfterMs" promise does not hold.
 */
import { systemClock } from '../src/clock.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTabCoordinator } from '../src/tab-coordinator.js';

/** A minimal Web Locks manager (exclusive locks, ifAvailable, steal) shared by the "tabs". */
function fakeLocks() {
  const held = new Map<string, { abort(error: Error): void }>();
  const steals: string[] = [];
  return {
    steals,
    request(name: string, options: { ifAvailable?: boolean; steal?: boolean }, callback: (lock: unknown) => Promise<unknown> | undefined): Promise<unknown> {
      return new Promise((resolve, reject) => {
        const current = held.get(name);
        if (current && options.ifAvailable) return resolve(callback(null));
        if (current && options.steal) {
          steals.push(name);
          current.abort(new DOMException('stolen', 'AbortError'));
        }
        const mine = { abort: (error: Error) => reject(error) };
        held.set(name, mine);
        Promise.resolve(callback({ name })).then(
          (value) => {
            if (held.get(name) === mine) held.delete(name);
            resolve(value);
          },
          (error: unknown) => {
            if (held.get(name) === mine) held.delete(name);
            reject(error);
          },
        );
      });
    },
  };
}

afterEach(() => vi.unstubAllGlobals());

describe('a stale busy mark', () => {
  it('does not steal a healthy pass of another tab an hour after the last time the room was busy', async () => {
    const locks = fakeLocks();
    vi.stubGlobal('navigator', { locks });
    let now = 0;
    const options = { name: 'tabs-db', shared: true, stealAfterMs: 3000, clock: { ...systemClock, now: () => now }, onMessage: () => {} };
    const tabX = createTabCoordinator(options);
    const tabY = createTabCoordinator(options);
    try {
      // Y flushes the room; X wants to at the same time (both woke on the same publish) and is told busy.
      let endY1!: () => void;
      const passY1 = tabY.lead('room', () => new Promise<void>((resolve) => (endY1 = resolve)));
      expect(await tabX.lead('room', async () => {})).toBe(false);
      endY1();
      await passY1;
      // X's next flush finds the outbox empty (Y sent it all): it does not call lead() again.

      // An hour later, same thing: Y is in the middle of a normal, short pass when X wants the room.
      now += 3_600_000;
      let endY2!: () => void;
      const passY2 = tabY.lead('room', () => new Promise<void>((resolve) => (endY2 = resolve)));
      const xLed = await Promise.race([tabX.lead('room', async () => {}), new Promise((resolve) => setTimeout(() => resolve('waiting'), 50))]);
      endY2();
      await passY2;
      expect({ xLed, steals: locks.steals.length }).toEqual({ xLed: false, steals: 0 });
    } finally {
      tabX.close();
      tabY.close();
    }
  });
});
