import { ErrorKind as WireErrorKind, type WireError } from '@partyline/protocol';

/**
 * Every error kind the SDK reports: the relay's wire kinds plus the SDK's own.
 * String literals, so they log and compare without a lookup table.
 */
export const PartylineErrorKind = {
  ...WireErrorKind,
  /** The outbox kept the message longer than `outboxRetentionMs` without an ack. */
  Expired: 'expired',
  /** No answer from the relay within the request timeout. */
  Timeout: 'timeout',
  /** The connection dropped before the relay answered. */
  Disconnected: 'disconnected',
  /** The client was closed; queued messages stay in the outbox for the next session. */
  Closed: 'closed',
  /** The relay could not be reached (network down, relay gone). */
  ConnectFailed: 'connect_failed',
  /** IndexedDB failed (quota, private mode, blocked upgrade). */
  Storage: 'storage',
  /** The relay answered what the protocol does not allow (a malformed page, one longer or larger than asked for): nothing of it is used, the request is retried. */
  ProtocolViolation: 'protocol_violation',
} as const;
export type PartylineErrorKind = (typeof PartylineErrorKind)[keyof typeof PartylineErrorKind];

const RETRYABLE = new Set<string>([
  WireErrorKind.TokenExpired,
  WireErrorKind.RateLimited,
  WireErrorKind.Unavailable,
  WireErrorKind.Draining,
  WireErrorKind.Internal,
  PartylineErrorKind.Timeout,
  PartylineErrorKind.Disconnected,
  PartylineErrorKind.Closed,
  PartylineErrorKind.ConnectFailed,
  PartylineErrorKind.ProtocolViolation,
]);

/**
 * The one error type the SDK throws, rejects with and reports in events.
 *
 * @example
 * try { await room.publish('chat', { text }) } catch (error) {
 *   const e = toPartylineError(error);
 *   if (e.kind === PartylineErrorKind.PayloadTooLarge) showTooLong();
 * }
 */
export class PartylineError extends Error {
  override readonly name = 'PartylineError';
  /** What went wrong, as a string literal from {@link PartylineErrorKind}. */
  readonly kind: PartylineErrorKind;
  /** Whether the same request may succeed later (the SDK retries these by itself). */
  readonly retryable: boolean;
  /** How long the relay asked to wait before retrying, when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: PartylineErrorKind, message: string, options: { retryable?: boolean | undefined; retryAfterMs?: number | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retryable = options.retryable ?? RETRYABLE.has(kind);
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Builds the SDK error for an error the relay sent. */
  static fromWire(error: WireError): PartylineError {
    return new PartylineError(error.kind, error.message, { retryable: error.retryable, retryAfterMs: error.retryAfterMs });
  }
}

/** A relay's error, including kinds a newer relay may add: its own `retryable` flag is trusted. */
function isWireError(value: unknown): value is WireError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.kind === 'string' && typeof candidate.message === 'string';
}

/**
 * Normalises anything thrown or received into a {@link PartylineError}: wire errors (also inside
 * a Socket.IO connect error's `data`), Socket.IO timeouts, storage errors, anything else.
 */
export function toPartylineError(error: unknown): PartylineError {
  if (error instanceof PartylineError) return error;
  if (isWireError(error)) {
    return new PartylineError(error.kind as PartylineErrorKind, error.message, {
      retryable: typeof error.retryable === 'boolean' ? error.retryable : undefined,
      retryAfterMs: typeof error.retryAfterMs === 'number' ? error.retryAfterMs : undefined,
    });
  }
  if (error instanceof Error) {
    const data = (error as Error & { data?: unknown }).data;
    if (isWireError(data)) return toPartylineError(data);
    if (error.message === 'operation has timed out') return new PartylineError(PartylineErrorKind.Timeout, 'the relay did not answer in time', { cause: error });
    if (error.message === 'socket has been disconnected') return new PartylineError(PartylineErrorKind.Disconnected, 'disconnected before the relay answered', { cause: error });
    if (error.name.endsWith('Error') && /IDB|Quota|Transaction|Database|Version|Constraint/i.test(error.name + error.message)) {
      return new PartylineError(PartylineErrorKind.Storage, error.message, { cause: error });
    }
    return new PartylineError(PartylineErrorKind.Internal, error.message, { cause: error, retryable: false });
  }
  return new PartylineError(PartylineErrorKind.Internal, String(error), { retryable: false });
}
