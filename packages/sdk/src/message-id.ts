let lastMs = -1;
let counter = 0;

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
/** Random bytes drawn in blocks: one `getRandomValues` call per 256 ids instead of one per id. */
const pool = new Uint8Array(16 * 256);
let poolOffset = pool.length;

function randomBytes(): Uint8Array {
  if (poolOffset === pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return bytes;
}

/** Starts over as a fresh realm would (no last id, an empty random pool): the simulator runs each seed so. */
export function resetMessageIds(): void {
  lastMs = -1;
  counter = 0;
  poolOffset = pool.length;
}

/**
 * Makes every later id of this realm sort after `id` (one queued by an earlier session of the
 * profile): its clock may have been ahead of this one's (stepped back by NTP, changed by hand), and
 * the outbox sends a room's entries in id order. Ids that are not UUIDv7 are ignored.
 */
export function observeMessageId(id: string): void {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/.test(id)) return;
  const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  const idCounter = parseInt(id.slice(15, 18), 16);
  if (ms > lastMs) {
    lastMs = ms;
    counter = idCounter;
  } else if (ms === lastMs) counter = Math.max(counter, idCounter);
}

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix ms, then a 12-bit counter that keeps ids made in the same
 * millisecond increasing, then 62 random bits. Ids sort in creation order within a tab, so the
 * outbox (keyed by id) lists entries in publish order.
 */
export function createMessageId(now: number = Date.now()): string {
  const bytes = randomBytes();
  if (now > lastMs) {
    lastMs = now;
    counter = ((bytes[6]! & 0x07) << 8) | bytes[7]!; // random start, room to grow
  } else {
    counter++;
    if (counter > 0xfff) {
      lastMs++;
      counter = 0;
    }
  }
  const ms = lastMs;
  for (let i = 5; i >= 0; i--) bytes[5 - i] = Math.floor(ms / 2 ** (8 * i)) & 0xff;
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  let id = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) id += '-';
    id += HEX[bytes[i]!];
  }
  return id;
}
