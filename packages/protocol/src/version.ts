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
 * - 3: no echo — a publish ack carries `ts` and `previousId` of the messages it appended, and the
 *      publisher's own connection is not sent them in `room:messages` (it puts them in its view from
 *      the ack; it may still get them when they share an event with another publisher's). A relay
 *      speaking 3 serves versions 1 and 2 with the echo, as before.
 */
export const PROTOCOL_VERSION = 3;

/** Versions this build of the protocol can talk to. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1, 2, 3];

/** The first version whose publisher learns its own messages from the ack instead of an echo. */
export const NO_ECHO_PROTOCOL_VERSION = 3;
