import type { PresenceChange } from '@partyline/protocol';
import type { PresenceChanges } from './store/presence-store.js';

/** A room sent to since the last tick: the changes waiting for the next one. */
interface CoolingRoom {
  epoch: string;
  waiting: PresenceChange[];
}

/**
 * Sends each room's presence changes at most once per `intervalMs`. A quiet room's change goes out
 * at once; changes that follow wait for the next tick and go out together, in version order. A
 * change costs mostly the wakeups and frames it makes on every relay; one timer for every room
 * means one tick sends every busy room's changes, which leave in one write to Redis and arrive at
 * the other relays in one read. `intervalMs` 0 sends every change at once.
 */
export class PresenceBatcher {
  private readonly cooling = new Map<string, CoolingRoom>();
  /** Runs while any room is cooling. */
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (room: string, changes: PresenceChanges) => void,
    private readonly intervalMs: number,
  ) {}

  add(room: string, { epoch, changes }: PresenceChanges): void {
    if (this.intervalMs <= 0) return this.send(room, { epoch, changes });
    const cooling = this.cooling.get(room);
    if (!cooling) {
      this.send(room, { epoch, changes });
      this.cooling.set(room, { epoch, waiting: [] });
      if (!this.ticker) {
        this.ticker = setInterval(() => this.tick(), this.intervalMs);
        this.ticker.unref();
      }
      return;
    }
    // One frame carries one epoch: what waits from an earlier one goes first, on its own.
    if (cooling.epoch !== epoch && cooling.waiting.length > 0) this.sendWaiting(room, cooling);
    cooling.epoch = epoch;
    cooling.waiting.push(...changes);
  }

  /** Sends everything waiting now and forgets every room (the relay is closing). */
  flush(): void {
    for (const [room, cooling] of this.cooling) if (cooling.waiting.length > 0) this.sendWaiting(room, cooling);
    this.cooling.clear();
    this.stopTicking();
  }

  private tick(): void {
    // A room with nothing new since the last tick is quiet again: its next change goes at once.
    for (const [room, cooling] of this.cooling) {
      if (cooling.waiting.length > 0) this.sendWaiting(room, cooling);
      else this.cooling.delete(room);
    }
    if (this.cooling.size === 0) this.stopTicking();
  }

  private stopTicking(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private sendWaiting(room: string, cooling: CoolingRoom): void {
    // Changes come back from the store out of order when their calls overlap.
    const changes = cooling.waiting.sort((a, b) => a.version - b.version);
    cooling.waiting = [];
    this.send(room, { epoch: cooling.epoch, changes });
  }
}
