import * as v from 'valibot';

/**
 * Room names: 1–128 characters of letters, digits and `_ . : -`, starting with a letter or digit.
 * No braces, so a name can sit inside a Redis Cluster hash tag; no `*`, which marks a prefix grant.
 */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const RoomNameSchema = v.pipe(v.string(), v.regex(ROOM_NAME_PATTERN, 'invalid room name'));
export type RoomName = v.InferOutput<typeof RoomNameSchema>;

export function isValidRoomName(name: unknown): name is string {
  return typeof name === 'string' && ROOM_NAME_PATTERN.test(name);
}

/** Message ids are client-made idempotency keys (UUIDv7, or client id + counter): 1–128 URL-safe characters. */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const MessageIdSchema = v.pipe(v.string(), v.regex(MESSAGE_ID_PATTERN, 'invalid message id'));

/** Application-defined message type, e.g. `chat`, `item:claim`. */
export const MESSAGE_TYPE_PATTERN = /^[A-Za-z0-9_.:/-]{1,64}$/;
export const MessageTypeSchema = v.pipe(v.string(), v.regex(MESSAGE_TYPE_PATTERN, 'invalid message type'));

/** A sequence number: a position in a room's log, starting at 1 (0 means "before the first"). */
export const SeqSchema = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
