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

/** Reads one feed message (`<origin>\n<json>`); `undefined` for anything that is not one (never throws). */
export function parseFeedBatch(text: string): FeedBatch | undefined {
  const newline = text.indexOf('\n');
  if (newline < 1) return undefined;
  let value: { r?: unknown; e?: unknown; p?: unknown; m?: unknown };
  try {
    value = JSON.parse(text.slice(newline + 1)) as typeof value;
  } catch {
    return undefined;
  }
  const { r, e, p, m } = value ?? {};
  if (typeof r !== 'string' || typeof e !== 'string' || typeof p !== 'string' || !Array.isArray(m) || m.length === 0 || !m.every(isRow)) return undefined;
  const messages = m.map(([seq, id, type, body, sender, ts]) => ({ seq, id, type, body, sender, ts }));
  return { origin: text.slice(0, newline), room: r, epoch: e, previousId: p || undefined, messages };
}

/** What following the feed needs from the relay. */
export interface FeedFollower {
  broadcaster: RoomBroadcaster;
  store: Pick<RoomLogStore, 'readBefore'>;
  /** The rooms this relay has members in now. */
  rooms(): Iterable<string>;
  logger: Logger;
}

/** Rooms whose newest message is re-read at once after the subscription comes back. */
const RESUME_CONCURRENCY = 50;

/**
 * The room feed on standalone Redis: every relay subscribes to one channel on which the append
 * step itself publishes each append's new messages, and hands those of other relays to its
 * broadcaster for its own members (its own appends it delivers from the append's reply). A
 * message crosses Redis once, inside the append, instead of an append and then a PUBLISH.
 *
 * While the subscription is down (Redis restarted, the connection lost) this relay's members miss
 * what others publish, and if nothing is published after that they would not notice until their
 * next reconnect. So when it is back, each room with members here gets its newest message again:
 * a member that is behind sees the gap and reads it from the log; the others drop it as a repeat.
 */
export function followRoomFeed(subscriber: Redis, channel: string, origin: string, { broadcaster, store, rooms, logger }: FeedFollower): void {
  // Every relay's appends come back to it too: its own are recognised by their first line, unparsed.
  const own = `${origin}\n`;
  subscriber.on('message', (from: string, text: string) => {
    if (from !== channel || text.startsWith(own)) return;
    const batch = parseFeedBatch(text);
    if (!batch) {
      logger.warn({ channel }, 'dropped a malformed room feed message');
      return;
    }
    broadcaster.add(batch.room, batch.epoch, batch.messages, batch.previousId);
  });
  subscriber.subscribe(channel).catch((error: Error) => logger.error({ err: error.message, channel }, 'could not subscribe to the room feed'));

  let readyBefore = false;
  subscriber.on('ready', () => {
    if (!readyBefore) {
      readyBefore = true;
      return;
    }
    // Subscribing again answers after the client's own re-subscription: the feed is live from here.
    void subscriber
      .subscribe(channel)
      .then(() => resendNewest([...rooms()], store, broadcaster))
      .catch((error: Error) => logger.warn({ err: error.message }, 'room feed back, but could not re-read the newest messages; members catch up at their next message'));
  });
}

async function resendNewest(rooms: string[], store: FeedFollower['store'], broadcaster: RoomBroadcaster): Promise<void> {
  for (let start = 0; start < rooms.length; start += RESUME_CONCURRENCY) {
    await Promise.all(
      rooms.slice(start, start + RESUME_CONCURRENCY).map(async (room) => {
        const page = await store.readBefore(room, Number.MAX_SAFE_INTEGER, 1);
        if (page.messages.length > 0) broadcaster.add(room, page.epoch, page.messages);
      }),
    );
  }
}
