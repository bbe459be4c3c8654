/**
 * Wire protocol version, sent by clients in the handshake (`auth.protocol`).
 * A relay refuses a client whose version it does not speak.
 *
 * Changelog:
 * - 1: first version — rooms with join/read/publish/leave/signal, per-message publish acks,
 *      sequence numbers and epochs on every room log; `relay:drain` before a relay shuts down.
 */
export const PROTOCOL_VERSION = 1;

/** Versions this build of the protocol can talk to. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1];
