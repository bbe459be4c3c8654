import type { Cluster, Redis } from 'ioredis';

/** Counts per time window (a second, an hour), shared by every relay that uses it. */
export interface SharedTally {
  /** Adds `counts` (counter → amount) to window `window`'s tally and answers each counter's total so far. */
  add(window: number, counts: Map<string, number>): Promise<Map<string, number>>;
}

/** One relay alone (the in-memory store): the tally is this process's own. */
export function memoryTally(): SharedTally {
  let current = { window: -1, totals: new Map<string, number>() };
  return {
    async add(window, counts) {
      if (current.window !== window) current = { window, totals: new Map() };
      const answer = new Map<string, number>();
      for (const [counter, count] of counts) {
        const total = (current.totals.get(counter) ?? 0) + count;
        current.totals.set(counter, total);
        answer.set(counter, total);
      }
      return answer;
    },
  };
}

// One hash per window for every counter (a single key: one trip per flush, on a cluster too).
const ADD_SCRIPT = `
local totals = {}
for i = 1, #ARGV - 1, 2 do totals[#totals + 1] = redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
return totals`;

/**
 * Relays sharing Redis: one script call per flush adds this relay's counts and reads the totals.
 * `name` keeps tallies of different things apart; a window's hash outlives its `windowMs` by as much again.
 */
export function redisTally(redis: Redis | Cluster, keyPrefix: string, name = 'user-rate', windowMs = 1_000): SharedTally {
  return {
    async add(window, counts) {
      const args: (string | number)[] = [];
      for (const [counter, count] of counts) args.push(counter, count);
      const totals = (await redis.eval(ADD_SCRIPT, 1, `${keyPrefix}{${name}}:${window}`, ...args, 2 * windowMs)) as number[];
      return new Map([...counts.keys()].map((counter, i) => [counter, totals[i] ?? 0]));
    },
  };
}

const WINDOW_MS = 1_000;

/** What one user may send per second over every relay; 0 turns a limit off. */
export interface UserRate {
  /** Messages and signals. */
  messagesPerSecond: number;
  /** UTF-8 bytes of published messages' ids, types and bodies. */
  bytesPerSecond: number;
}

/** Tally counters of a user: messages and bytes, side by side in the same window's hash. */
const messagesOf = (user: string) => `m:${user}`;
const bytesOf = (user: string) => `b:${user}`;

/**
 * Messages (and signals) and the bytes of messages per second per user (`sub`), over all of that user's connections
 * on every relay sharing the tally. A check never waits for Redis: each relay counts in memory and adds its counts to the
 * shared tally every `flushMs` (at once for a user past a tenth of a limit), learning the totals
 * and refusing a user whose total reached either limit until the second ends. What the relays admit
 * beyond the limit is what they admit while a flush is under way. If the tally is unreachable, each
 * relay still holds the limit for itself.
 *
 * A fixed window: a user may spend a second's allowance at once (its burst), and twice that across
 * the turn of a second. A request costing more than an allowance never passes: callers keep the
 * allowances at least their largest request.
 */
export class UserRateLimiter {
  private window = -1;
  /** Totals of the current second as the tally last answered them (every relay's counts), by counter. */
  private totals = new Map<string, number>();
  /** Counted here and not yet added to the tally, by counter. */
  private unflushed = new Map<string, number>();
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly rate: UserRate,
    private readonly tally: SharedTally,
    private readonly onError: (error: Error) => void,
    flushMs = 100,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  /** Counts `messages` and `bytes` for `user` and returns 0, or counts nothing and returns the milliseconds to wait. */
  take(user: string, messages: number, bytes = 0): number {
    const at = this.now();
    this.roll(at);
    const { messagesPerSecond, bytesPerSecond } = this.rate;
    if (this.over(messagesOf(user), messages, messagesPerSecond) || this.over(bytesOf(user), bytes, bytesPerSecond)) return WINDOW_MS - (at % WINDOW_MS);
    const fastMessages = this.count(messagesOf(user), messages, messagesPerSecond);
    const fastBytes = this.count(bytesOf(user), bytes, bytesPerSecond);
    // A user spending fast is reported at once, not at the next tick: other relays learn sooner.
    if ((fastMessages || fastBytes) && !this.inFlight) void this.flush();
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

  private over(counter: string, cost: number, limit: number): boolean {
    return limit > 0 && (this.totals.get(counter) ?? 0) + (this.unflushed.get(counter) ?? 0) + cost > limit;
  }

  /** Counts `cost` (unless that limit is off); answers whether this relay's unreported part passed a tenth of it. */
  private count(counter: string, cost: number, limit: number): boolean {
    if (limit === 0 || cost === 0) return false;
    const unflushed = (this.unflushed.get(counter) ?? 0) + cost;
    this.unflushed.set(counter, unflushed);
    return unflushed >= limit / 10;
  }

  private async report(window: number, counts: Map<string, number>): Promise<void> {
    let totals: Map<string, number>;
    try {
      totals = await this.tally.add(window, counts);
    } catch (error) {
      // Keep the counts locally, so this relay still holds the limit on its own.
      totals = new Map([...counts].map(([counter, count]) => [counter, (this.totals.get(counter) ?? 0) + count]));
      this.onError(error instanceof Error ? error : new Error(String(error)));
    }
    if (window !== this.window) return;
    // Counted until now as unflushed; from now on, part of the totals.
    for (const [counter, count] of counts) {
      const left = (this.unflushed.get(counter) ?? 0) - count;
      if (left > 0) this.unflushed.set(counter, left);
      else this.unflushed.delete(counter);
      this.totals.set(counter, Math.max(totals.get(counter) ?? 0, this.totals.get(counter) ?? 0));
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
