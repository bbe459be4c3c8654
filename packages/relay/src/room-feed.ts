import type { LogMessage } from '@partyline/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RoomBroadcaster } from './room-broadcaster.js';
import type { RoomLogStore } from './store/room-log-store.js';

/** A batch of new messages of one room, as the append step published it (see APPEND_SCRIPT). */
export interface FeedBatch {
  origin: string;
  room: string;
  epoch: string;
  previousId: string | undefined;
  messages: LogMessage[];
}

type Row = [number, string, string, string, string, number];
const isRow = (row: unknown): row is Row =>
  Array.isArray(row) &&
  row.length === 6 &&
  Number.isSafeInteger(row[0]) &&
  typeof row[1] === 'string' &&
  typeof row[2] === 'string' &&
  typeof row[3] === 'string' &&
  typeof row[4] === 'string' &&
  Number.isFinite(row[5]);

const NEWLINE = 0x0a;

/** Where the origin and room lines of a feed message end (`<origin>\n<room>\n<json>`), found without decoding it. */
function feedHeader(message: Buffer): { originEnd: number; roomEnd: number } | undefined {
  const originEnd = message.indexOf(NEWLINE);
  const roomEnd = originEnd < 1 ? -1 : message.indexOf(NEWLINE, originEnd + 1);
  return roomEnd > originEnd + 1 ? { originEnd, roomEnd } : undefined;
}

/** Reads one feed message (`<origin>\n<room>\n<json>`); `undefined` for anything that is not one (never throws). */
export function parseFeedBatch(message: Buffer | string): FeedBatch | undefined {
  const bytes = typeof message === 'string' ? Buffer.from(message) : message;
  const header = feedHeader(bytes);
  if (!header) return undefined;
  return parseFeedJson(bytes.toString('utf8', 0, header.originEnd), bytes.toString('utf8', header.originEnd + 1, header.roomEnd), bytes.toString('utf8', header.roomEnd + 1));
}

function parseFeedJson(origin: string, room: string, json: string): FeedBatch | undefined {
  let value: { e?: unknown; p?: unknown; m?: unknown };
  try {
    value = JSON.parse(json) as typeof value;
  } catch {
    return undefined;
  }
  const { e, p, m } = value ?? {};
  if (typeof e !== 'string' || typeof p !== 'string' || !Array.isArray(m) || m.length === 0 || !m.every(isRow)) return undefined;
  const messages = m.map(([seq, id, type, body, sender, ts]) => ({ seq, id, type, body, sender, ts }));
  return { origin, room, epoch: e, previousId: p || undefined, messages };
}

/** What following the feed needs from the relay. */
export interface FeedFollower {
  broadcaster: RoomBroadcaster;
  store: Pick<RoomLogStore, 'readBefore'>;
  /** The rooms this relay has members in now. */
  rooms(): Iterable<string>;
  hasMembers(room: string): boolean;
  logger: Logger;
}

/** Rooms whose newest messages are re-read at once after the subscription comes back. */
const RESUME_CONCURRENCY = 50;
/** Tries to re-read them while the store is not back yet (it reconnects on its own backoff, up to 2 s). */
const RESUME_ATTEMPTS = 8;
const RESUME_RETRY_MS = 500;

/**
 * The room feed on standalone Redis: every relay subscribes to one channel on which the append
 * step itself publishes each append's new messages, and hands those of other relays to its
 * broadcaster for the rooms it has members in (its own appends it delivers from the append's
 * reply). A message crosses Redis once, inside the append, instead of an append and then a PUBLISH.
 *
 * While the subscription is down (Redis restarted, the connection lost) this relay's members miss
 * what others publish, and if nothing is published after that they would not notice until their
 * next reconnect. So whenever it is (back) up, each room with members here gets its newest message
 * again, linked to the one before it: a member that is behind sees the gap and reads it from the
 * log, a member whose history no longer matches the log sees that, and the others drop the repeat.
 * Returns a function that stops the retries (when the relay closes).
 */
export function followRoomFeed(subscriber: Redis, channel: string, origin: string, follower: FeedFollower): () => void {
  const { broadcaster, hasMembers, logger } = follower;
  const ownOrigin = Buffer.from(`${origin}\n`);
  const channelBytes = Buffer.from(channel);
  // Buffers, not strings: its own appends come back to every relay too, and most rooms have no members
  // on most relays — those are skipped before a byte of them is decoded.
  subscriber.on('messageBuffer', (from: Buffer, message: Buffer) => {
    if (!channelBytes.equals(from)) return;
    if (message.length > ownOrigin.length && ownOrigin.equals(message.subarray(0, ownOrigin.length))) return;
    const header = feedHeader(message);
    const room = header && message.toString('utf8', header.originEnd + 1, header.roomEnd);
    if (room !== undefined && !hasMembers(room)) return;
    const batch = header && room !== undefined ? parseFeedJson(message.toString('utf8', 0, header.originEnd), room, message.toString('utf8', header.roomEnd + 1)) : undefined;
    if (!batch) {
      logger.warn({ channel }, 'dropped a malformed room feed message');
      return;
    }
    broadcaster.add(batch.room, batch.epoch, batch.messages, batch.previousId);
  });

  let stopped = false;
  let resuming: Promise<void> | undefined;
  subscriber.on('ready', () => {
    // Subscribing again answers after the client's own (re-)subscription: the feed is live from here.
    resuming ??= subscriber
      .subscribe(channel)
      .then(() => resendNewest(follower, () => stopped))
      .catch((error: Error) => logger.warn({ err: error.message }, 'room feed up, but its rooms’ newest messages could not be re-read; members catch up at their next message'))
      .finally(() => (resuming = undefined));
  });
  return () => {
    stopped = true;
  };
}

async function resendNewest({ broadcaster, store, rooms }: FeedFollower, stopped: () => boolean): Promise<void> {
  let pending = [...rooms()];
  for (let attempt = 1; pending.length > 0 && !stopped(); attempt++) {
    const failed: string[] = [];
    for (let start = 0; start < pending.length; start += RESUME_CONCURRENCY) {
      await Promise.all(
        pending.slice(start, start + RESUME_CONCURRENCY).map(async (room) => {
          try {
            const page = await store.readBefore(room, Number.MAX_SAFE_INTEGER, 2);
            const newest = page.messages.at(-1);
            if (newest) broadcaster.add(room, page.epoch, [newest], page.messages.length > 1 ? page.messages[0]!.id : undefined);
          } catch (error) {
            if (attempt >= RESUME_ATTEMPTS) throw error;
            failed.push(room);
          }
        }),
      );
    }
    pending = failed;
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, RESUME_RETRY_MS).unref());
  }
}
