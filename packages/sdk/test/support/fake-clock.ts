import type { Clock, TimerHandle } from '../../src/clock.js';

/** A clock that moves only when told: `advance(ms)` runs the timers that come due, in order. */
export interface FakeClock extends Clock {
  advance(ms: number): void;
  /** Timers set and not yet run or cleared. */
  readonly pending: number;
}

export function createFakeClock(start = 1_000_000): FakeClock {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, { due: number; run: () => void }>();
  return {
    now: () => now,
    setTimeout(run, delayMs) {
      const id = ++nextId;
      timers.set(id, { due: now + Math.max(0, delayMs), run });
      return id;
    },
    clearTimeout(handle: TimerHandle | undefined) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let next: [number, { due: number; run: () => void }] | undefined;
        for (const entry of timers) if (entry[1].due <= until && (!next || entry[1].due < next[1].due)) next = entry;
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].due;
        next[1].run();
      }
      now = until;
    },
    get pending() {
      return timers.size;
    },
  };
}
