// Plain patterns, no schemas: what the browser SDK imports of the name rules stays free of valibot.

/**
 * Room names: 1–128 characters of letters, digits and `_ . : -`, starting with a letter or digit.
 * No braces, so a name can sit inside a Redis Cluster hash tag; no `*`, which marks a prefix grant.
 */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function isValidRoomName(name: unknown): name is string {
  return typeof name === 'string' && ROOM_NAME_PATTERN.test(name);
}

/** Message ids are client-made idempotency keys (UUIDv7, or client id + counter): 1–128 URL-safe characters. */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Application-defined message type, e.g. `chat`, `item:claim`. */
export const MESSAGE_TYPE_PATTERN = /^[A-Za-z0-9_.:/-]{1,64}$/;
