import type { Cluster, Redis } from 'ioredis';

/** A per-second tally of each user's messages, shared by every relay that uses it. */
export interface SharedTally {
  /** Adds `counts` (user → requests) to second `window`'s tally and answers each user's total so far. */
  add(window: number, counts: Map<string, number>): Promise<Map<string, number>>;
}

/** One relay alone (the in-memory store): the tally is this process's own. */
export function memoryTally(): SharedTally {
  let current = { window: -1, totals: new Map<string, number>() };
  return {
    async add(window, counts) {
      if (current.window !== window) current = { window, totals: new Map() };
      const answer = new Map<string, number>();
      for (const [user, count] of counts) {
        const total = (current.totals.get(user) ?? 0) + count;
        current.totals.set(user, total);
        answer.set(user, total);
      }
      return answer;
    },
  };
}

// One hash per second for every user (a single key: one trip per flush, on a cluster too).
const ADD_SCRIPT = `
local totals = {}
for i = 1, #ARGV - 1, 2 do totals[#totals + 1] = redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
return totals`;

/** Relays sharing Redis: one script call per flush adds this relay's counts and reads the totals. */
export function redisTally(redis: Redis | Cluster, keyPrefix: string): SharedTally {
  return {
    async add(window, counts) {
      const args: (string | number)[] = [];
      for (const [user, count] of counts) args.push(user, count);
      const totals = (await redis.eval(ADD_SCRIPT, 1, `${keyPrefix}{user-rate}:${window}`, ...args, 2_000)) as number[];
      return new Map([...counts.keys()].map((user, i) => [user, totals[i] ?? 0]));
    },
  };
}

const WINDOW_MS = 1_000;

/**
 * Messages (and signals) per second per user (`sub`), over all of that user's connections on every relay sharing
 * the tally. A check never waits for Redis: each relay counts in memory and adds its counts to the
 * shared tally every `flushMs` (at once for a user past a tenth of the limit), learning the totals
 * and refusing a user whose total reached the limit until the second ends. What the relays admit
 * beyond the limit is what they admit while a flush is under way. If the tally is unreachable, each
 * relay still holds the limit for itself.
 */
export class UserRateLimiter {
  private window = -1;
  /** Totals of the current second as the tally last answered them (every relay's counts). */
  private totals = new Map<string, number>();
  /** Counted here and not yet added to the tally. */
  private unflushed = new Map<string, number>();
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly perSecond: number,
    private readonly tally: SharedTally,
    private readonly onError: (error: Error) => void,
    flushMs = 100,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  /** Counts `cost` requests for `user` and returns 0, or counts nothing and returns the milliseconds to wait. */
  take(user: string, cost: number): number {
    const at = this.now();
    this.roll(at);
    const used = (this.totals.get(user) ?? 0) + (this.unflushed.get(user) ?? 0);
    if (used + cost > this.perSecond) return WINDOW_MS - (at % WINDOW_MS);
    const unflushed = (this.unflushed.get(user) ?? 0) + cost;
    this.unflushed.set(user, unflushed);
    // A user spending fast is reported at once, not at the next tick: other relays learn sooner.
    if (unflushed >= this.perSecond / 10 && !this.inFlight) void this.flush();
    return 0;
  }

  /** Adds what this relay counted to the shared tally and learns the totals (waits for one under way). */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    this.roll(this.now());
    if (this.unflushed.size === 0) return;
    this.inFlight = this.report(this.window, new Map(this.unflushed)).finally(() => (this.inFlight = undefined));
    await this.inFlight;
  }

  private async report(window: number, counts: Map<string, number>): Promise<void> {
    let totals: Map<string, number>;
    try {
      totals = await this.tally.add(window, counts);
    } catch (error) {
      // Keep the counts locally, so this relay still holds the limit on its own.
      totals = new Map([...counts].map(([user, count]) => [user, (this.totals.get(user) ?? 0) + count]));
      this.onError(error instanceof Error ? error : new Error(String(error)));
    }
    if (window !== this.window) return;
    // Counted until now as unflushed; from now on, part of the totals.
    for (const [user, count] of counts) {
      const left = (this.unflushed.get(user) ?? 0) - count;
      if (left > 0) this.unflushed.set(user, left);
      else this.unflushed.delete(user);
      this.totals.set(user, Math.max(totals.get(user) ?? 0, this.totals.get(user) ?? 0));
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A new second starts with nothing counted. */
  private roll(at: number): void {
    const window = Math.floor(at / WINDOW_MS);
    if (window === this.window) return;
    this.window = window;
    this.totals = new Map();
    this.unflushed = new Map();
  }
}
