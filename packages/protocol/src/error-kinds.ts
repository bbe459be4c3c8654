// Plain constants, no schemas: what the browser SDK imports of the error kinds stays free of valibot.

/**
 * Every error kind a relay can answer with. String literals on the wire, so logs and
 * clients in any language read them without a lookup table.
 */
export const ErrorKind = {
  /** The payload does not match the event's schema. */
  BadRequest: 'bad_request',
  /** The event name is not part of the protocol. */
  UnknownEvent: 'unknown_event',
  /** The room name breaks the room-name rules. */
  InvalidRoom: 'invalid_room',
  /** A body or a batch is larger than the relay allows. */
  PayloadTooLarge: 'payload_too_large',
  /** Missing, forged or malformed token, or `alg: none`. */
  Unauthorized: 'unauthorized',
  /** The token was valid but has expired; refresh it and reconnect. */
  TokenExpired: 'token_expired',
  /** The token does not grant this room. */
  Forbidden: 'forbidden',
  /** The message id was already used in this room for a different message. */
  Conflict: 'conflict',
  /** An annotation's target is not a message of this room's log (never was, or trimmed). */
  NotFound: 'not_found',
  /** An edit or reaction of a message that was deleted. */
  MessageDeleted: 'message_deleted',
  /** Too many requests on this connection; retry after `retryAfterMs`. */
  RateLimited: 'rate_limited',
  /** The room log store is unreachable; retry later. */
  Unavailable: 'unavailable',
  /** The client speaks a protocol version this relay does not. */
  UnsupportedProtocol: 'unsupported_protocol',
  /** The client read too slowly and fell too far behind; reconnect and catch up from the log. */
  SlowConsumer: 'slow_consumer',
  /** The relay is shutting down; reconnect to another relay. */
  Draining: 'draining',
  /** An unexpected relay failure. */
  Internal: 'internal',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** Whether a request that failed with this kind may succeed if sent again unchanged (or after a token refresh). */
export const RETRYABLE_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  ErrorKind.TokenExpired,
  ErrorKind.RateLimited,
  ErrorKind.Unavailable,
  ErrorKind.Draining,
  ErrorKind.SlowConsumer,
  ErrorKind.Internal,
]);
