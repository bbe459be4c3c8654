/** An opaque timer handle of a {@link Clock}. */
export type TimerHandle = { readonly __timer: true } | number | object;

/**
 * Where the SDK reads the time and sets its timers. Injected so that a fake clock (unit tests) or a
 * virtual one (the deterministic simulator) drives every wait of the client; nothing in the SDK calls
 * `setTimeout` or `Date.now` directly.
 */
export interface Clock {
  /** Epoch milliseconds. May jump (NTP, a sleeping laptop): the SDK never assumes it only moves forward. */
  now(): number;
  setTimeout(run: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** Longest delay `setTimeout` accepts; longer waits are clamped (and re-armed by their owner). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The real clock: `Date.now` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, delayMs) => setTimeout(run, Math.min(MAX_TIMER_MS, Math.max(0, delayMs))) as unknown as TimerHandle,
  clearTimeout: (handle) => {
    if (handle !== undefined) clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
