/** Token bucket: `perSecond` tokens a second, at most `burst` saved up. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** A class, not closures: one sits on every connection, so its size matters. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = limit.burst;
    this.updatedAt = now();
  }

  /** Takes `cost` tokens and returns 0, or takes none and returns the milliseconds until it could. */
  take(cost: number): number {
    const { perSecond, burst } = this.limit;
    const at = this.now();
    this.tokens = Math.min(burst, this.tokens + ((at - this.updatedAt) / 1000) * perSecond);
    this.updatedAt = at;
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return 0;
    }
    // A cost above the burst can never pass; say when the bucket is full again.
    return ((Math.min(cost, burst) - this.tokens) / perSecond) * 1000;
  }
}

/**
 * Token buckets by key (a client address): one peer spending its own allowance cannot spend anyone
 * else's. Bounded: past `maxKeys` the oldest tenth is forgotten (a forgotten key starts full again,
 * which only ever errs towards letting a real client in).
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxKeys = 50_000,
  ) {}

  take(key: string, cost: number): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) {
        let drop = Math.ceil(this.maxKeys / 10);
        for (const old of this.buckets.keys()) {
          this.buckets.delete(old);
          if (--drop === 0) break;
        }
      }
      bucket = new TokenBucket(this.limit);
      this.buckets.set(key, bucket);
    }
    return bucket.take(cost);
  }
}

/**
 * When to tell refused clients to come back: the k-th refusal of a crowd is given k / perSecond
 * from now (the backlog drains at the rate the limit lets clients in), so a reconnect storm returns
 * spread over the time the relay needs to admit it instead of all at once, refused again and again.
 */
export class RetrySchedule {
  private backlog = 0;
  private updatedAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.updatedAt = now();
  }

  /** Counts one refusal; returns its retry delay in ms (never below `minimumMs`). */
  next(minimumMs: number): number {
    const at = this.now();
    this.backlog = Math.max(0, this.backlog - ((at - this.updatedAt) / 1000) * this.perSecond) + 1;
    this.updatedAt = at;
    return Math.max(minimumMs, Math.ceil((this.backlog / this.perSecond) * 1000));
  }
}
