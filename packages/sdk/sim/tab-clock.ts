import type { Clock, TimerHandle } from '../src/clock.js';

/**
 * One tab's clock over the simulation's (faked) global timers: it knows its own timers, so a crash
 * kills them all, a sleeping laptop holds them back and fires them late on waking, and the checker
 * can see that none survives `client.close()`.
 */
export class TabClock implements Clock {
  readonly #timers = new Map<number, { run(): void; handle: ReturnType<typeof setTimeout> | undefined }>();
  #next = 0;
  #dead = false;
  #asleep = false;
  /** Timers that came due while asleep, in due order. */
  #overdue: number[] = [];

  now(): number {
    return Date.now();
  }

  setTimeout(run: () => void, delayMs: number): TimerHandle {
    const id = ++this.#next;
    if (this.#dead) return id;
    const timer: { run(): void; handle: ReturnType<typeof setTimeout> | undefined } = {
      run,
      handle: setTimeout(() => {
        timer.handle = undefined;
        if (this.#asleep) return void this.#overdue.push(id);
        this.#timers.delete(id);
        run();
      }, Math.max(0, delayMs)),
    };
    this.#timers.set(id, timer);
    return id;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    const timer = this.#timers.get(handle as number);
    if (!timer) return;
    clearTimeout(timer.handle);
    this.#timers.delete(handle as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  sleep(): void {
    this.#asleep = true;
  }

  /** Wakes: what came due meanwhile runs now, late, in order. */
  wake(): void {
    if (!this.#asleep) return;
    this.#asleep = false;
    for (const id of this.#overdue.splice(0)) {
      const timer = this.#timers.get(id);
      if (!timer) continue;
      this.#timers.delete(id);
      timer.run();
    }
  }

  /** A crash: every timer goes, none fires again. */
  kill(): void {
    this.#dead = true;
    for (const timer of this.#timers.values()) clearTimeout(timer.handle);
    this.#timers.clear();
    this.#overdue = [];
  }
}
