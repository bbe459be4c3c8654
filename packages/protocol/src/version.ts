/**
 * Wire protocol version, sent by clients in the handshake (`auth.protocol`).
 * A relay refuses a client whose version it does not speak.
 *
 * Changelog:
 * - 1: first version — rooms with join/read/publish/leave/signal, per-message publish acks,
 *      sequence numbers and epochs on every room log; `relay:drain` before a relay shuts down.
 * - 2: positioned recovery — join/read may carry `epoch` + `sinceId` and pages answer `diverged`;
 *      `room:messages` carries `links` (the id before each appended batch); pages carry `headId`.
 *      Rooms never written to answer epoch ''. Additive: a relay
 *      speaking 2 serves version-1 clients unchanged.
 */
export const PROTOCOL_VERSION = 2;

/** Versions this build of the protocol can talk to. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1, 2];
