/** How long one webhook event is retried before it goes to the dead letters. */
export interface WebhookRetryPolicy {
  /** Attempts per event, the first included. A 4xx other than 408/429 ends them at once. @default 8 */
  maxAttempts: number;
  /** No attempt later than this after the event's first one. @default 3600000 (1 h) */
  maxAgeMs: number;
}

/** One event's attempts in its current round of delivery (times in ms since the epoch). */
export interface AttemptRecord {
  /** The event's `webhook-id`. */
  id: string;
  attempts: number;
  firstAttemptAt: number;
  lastAttemptAt: number;
  /** The receiver's last HTTP status, when it answered at all. */
  lastStatus?: number;
  lastError: string;
}

/** A receiver's answer that was not a 2xx (or no answer at all). */
export interface Refusal {
  /** A 4xx other than 408 / 429: the same request will never pass. */
  final: boolean;
  status?: number;
  error: string;
  /** The receiver's Retry-After. */
  retryAfterMs?: number;
}

export type DeadReason = 'refused' | 'attempts' | 'age';

/** After a failed attempt: the event's updated record, and either when to try again or why to give up. */
export type Verdict = { record: AttemptRecord } & ({ retryAt: number } | { dead: DeadReason });

/** The longest wait between two attempts (also caps a receiver's Retry-After). */
const MAX_RETRY_DELAY_MS = 10 * 60_000;

/**
 * Waits 0.5 s, 2 s, 8 s, 32 s, 128 s, 512 s, then 10 min between attempts, each × 0.5–1 at random so
 * rooms and relays spread out: a blip costs half a second, and the default 8 attempts span 11–21 min,
 * enough to ride out a receiver's deploy or restart, while a room whose head event keeps failing is
 * held up (its later events wait, in order) for that long at most.
 */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  return Math.round(Math.min(MAX_RETRY_DELAY_MS, 500 * 4 ** (attempts - 1)) * (0.5 + random() / 2));
}

/** Judges a failed attempt at event `id`; `prior` counts only if it is the same event's record. */
export function judgeFailure(prior: AttemptRecord | undefined, id: string, refusal: Refusal, now: number, policy: WebhookRetryPolicy): Verdict {
  const same = prior?.id === id;
  const record: AttemptRecord = {
    id,
    attempts: (same ? prior.attempts : 0) + 1,
    firstAttemptAt: same ? prior.firstAttemptAt : now,
    lastAttemptAt: now,
    ...(refusal.status !== undefined ? { lastStatus: refusal.status } : {}),
    lastError: refusal.error,
  };
  if (refusal.final) return { record, dead: 'refused' };
  if (record.attempts >= policy.maxAttempts) return { record, dead: 'attempts' };
  const deadline = record.firstAttemptAt + policy.maxAgeMs;
  if (now >= deadline) return { record, dead: 'age' };
  const delay = Math.max(retryDelayMs(record.attempts), Math.min(refusal.retryAfterMs ?? 0, MAX_RETRY_DELAY_MS));
  // The last attempt happens at the deadline rather than not at all.
  return { record, retryAt: Math.min(deadline, now + delay) };
}

/** A 4xx other than 408 (timeout) and 429 (rate limited) means the receiver will never take it. */
export function isFinalStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** `Retry-After` in seconds or as an HTTP date, in ms from `now`; undefined if absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
