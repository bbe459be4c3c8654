import { MAX_TIMER_MS, type Clock, type TimerHandle } from './clock.js';
import { retryDelayFor, type RetryDelay } from './retry-policy.js';

/**
 * The client's one scheduler: every wait of the SDK — reconnecting, flushing, expiring outbox
 * entries, a room's catch-up and gap fill, presence catch-up — is a named slot here, on one clock,
 * with one retry policy and one abort signal. Its delegates (connection, flusher, rooms, presence)
 * decide *what* to do in their state machines; this decides nothing but *when*.
 *
 * A slot holds at most one timer: asking again for a slot that is already due keeps the earlier time
 * (`earliest`, coalescing "run again"), or moves it (`replace`). `close()` clears every slot and
 * aborts `signal`, so no timer survives the client.
 */
export interface Scheduler {
  readonly clock: Clock;
  /** Aborted when the client closes; delegates stop their work on it. */
  readonly signal: AbortSignal;
  /** Runs `task` in `delayMs` under `slot` (see the class comment for `mode`). */
  schedule(slot: string, delayMs: number, task: () => void, mode?: 'earliest' | 'replace'): void;
  cancel(slot: string): void;
  /** How long to wait before retry number `attempt` (1-based): the client's policy, at least what a relay asked for. */
  backoff(attempt: number, retryAfterMs?: number): number;
  /** Reports one state-machine transition of a delegate to the client's `onTransition` listener (devtools, the simulator's coverage). */
  transition(machine: string, from: string, event: string, to: string): void;
  /** Scheduled slots (the simulator checks that none survives `close()`). */
  readonly size: number;
  close(): void;
}

interface Slot {
  due: number;
  handle: TimerHandle;
  task: () => void;
}

/** One transition of one of the client's state machines. */
export interface TransitionRecord {
  machine: 'connection' | 'room' | 'flush' | 'presence';
  from: string;
  event: string;
  to: string;
}

export function createScheduler(clock: Clock, retryDelay: RetryDelay, onTransition?: (record: TransitionRecord) => void): Scheduler {
  const slots = new Map<string, Slot>();
  const abort = new AbortController();

  const arm = (name: string, due: number, task: () => void): void => {
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, due - clock.now()));
    const slot: Slot = {
      due,
      task,
      handle: clock.setTimeout(() => {
        if (slots.get(name) !== slot) return;
        slots.delete(name);
        // A clamped wait (weeks away) is re-armed rather than run early.
        if (clock.now() < slot.due && delay === MAX_TIMER_MS) return arm(name, slot.due, task);
        task();
      }, delay),
    };
    slots.set(name, slot);
  };

  return {
    clock,
    signal: abort.signal,
    schedule(name, delayMs, task, mode = 'earliest') {
      if (abort.signal.aborted) return;
      const due = clock.now() + Math.max(0, delayMs);
      const current = slots.get(name);
      if (current) {
        if (mode === 'earliest' && current.due <= due) {
          current.task = task;
          return;
        }
        clock.clearTimeout(current.handle);
      }
      arm(name, due, task);
    },
    cancel(name) {
      const current = slots.get(name);
      if (!current) return;
      clock.clearTimeout(current.handle);
      slots.delete(name);
    },
    backoff: (attempt, retryAfterMs) => retryDelayFor(retryDelay, attempt, retryAfterMs),
    transition(machine, from, event, to) {
      onTransition?.({ machine: machine as TransitionRecord['machine'], from, event, to });
    },
    get size() {
      return slots.size;
    },
    close() {
      for (const slot of slots.values()) clock.clearTimeout(slot.handle);
      slots.clear();
      abort.abort();
    },
  };
}
