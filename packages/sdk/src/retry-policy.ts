/** Returns how long to wait before retry number `attempt` (1 for the first retry), in ms. */
export type RetryDelay = (attempt: number) => number;

export interface BackoffOptions {
  /** Delay cap of the first retry. @default 250 */
  baseMs?: number;
  /**
   * Largest delay. Short enough that a client that failed for minutes is back within seconds of the
   * network or relay returning; a crowd still spreads (full jitter) and a relay that is overloaded
   * says so with `retryAfterMs`, which wins over this. @default 5000
   */
  maxMs?: number;
  /** Random source in [0, 1). @default Math.random */
  random?: () => number;
}

/**
 * Capped exponential backoff with full jitter: a uniform delay in
 * `[0, min(maxMs, baseMs · 2^(attempt-1)))`, so a crowd of clients that lost the same relay
 * spreads out instead of coming back in lockstep.
 *
 * @example
 * createClient({ relays, token, retryDelay: exponentialBackoff({ baseMs: 500, maxMs: 10_000 }) });
 */
export function exponentialBackoff(options: BackoffOptions = {}): RetryDelay {
  const baseMs = options.baseMs ?? 250;
  const maxMs = options.maxMs ?? 5_000;
  const random = options.random ?? Math.random;
  return (attempt) => {
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
    return Math.floor(random() * ceiling);
  };
}

/** The longest wait a relay can ask for: a buggy or hostile `retryAfterMs` never parks a client for days (or overflows a timer). */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** The delay to wait: the policy's, but never shorter than what the relay asked for (at most {@link MAX_RETRY_AFTER_MS}). */
export function retryDelayFor(policy: RetryDelay, attempt: number, retryAfterMs?: number): number {
  const delay = Math.max(0, policy(attempt));
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return delay;
  return Math.max(delay, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}
