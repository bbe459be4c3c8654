import type { SharedTally } from './user-rate-limit.js';

const HOUR_MS = 3_600_000;

/**
 * Rooms one user may create per hour (fixed hours: up to twice as many across the turn of one), over
 * every relay sharing the tally. A room is created by the first message appended to it (joins and
 * reads create nothing), so this is asked only when an append finds no room: rare enough that each
 * creation is counted in the shared tally before it happens, and no relay lets a user past the bound
 * while it waits to hear from the others.
 */
export class RoomCreationLimit {
  constructor(
    private readonly perHour: number,
    private readonly tally: SharedTally,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one room `user` is about to create: 0, or the milliseconds until the user may create one. */
  async take(user: string): Promise<number> {
    const at = this.now();
    const created = (await this.tally.add(Math.floor(at / HOUR_MS), new Map([[user, 1]]))).get(user) ?? 0;
    return created > this.perHour ? HOUR_MS - (at % HOUR_MS) : 0;
  }
}
