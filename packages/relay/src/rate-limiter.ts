/** Token bucket: `perSecond` tokens a second, at most `burst` saved up. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export interface TokenBucket {
  /** Takes `cost` tokens and returns 0, or takes none and returns the milliseconds until it could. */
  take(cost: number): number;
}

export function createTokenBucket({ perSecond, burst }: RateLimit, now: () => number = Date.now): TokenBucket {
  let tokens = burst;
  let updatedAt = now();
  return {
    take(cost) {
      const at = now();
      tokens = Math.min(burst, tokens + ((at - updatedAt) / 1000) * perSecond);
      updatedAt = at;
      if (tokens >= cost) {
        tokens -= cost;
        return 0;
      }
      // A cost above the burst can never pass; say when the bucket is full again.
      return (Math.min(cost, burst) - tokens) / perSecond * 1000;
    },
  };
}
