import { isAnnotationType, type LogMessage } from '@partyline/protocol';
import type { IDBPObjectStore } from 'idb';
import type { PartylineDatabase, PartylineSchema, RoomCursor, StoredMessage } from './database.js';
import { bytesOf, messageBytes } from './message-bytes.js';

/** Which history a tab follows: the log's epoch and the cache's branch within it. */
export interface CacheLineage {
  epoch: string;
  branch: string;
}

/** How much of a room the cache keeps: its newest messages, at most this many and this many bytes (see messageBytes). */
export interface CacheLimits {
  inboxLimit: number;
  inboxMaxBytes: number;
}

/**
 * The profile's shared inbox cache: per room a cursor plus the messages up to it. Tabs share it, so
 * every write is guarded: never mix two epochs or two branches, never move the cursor back, and only
 * move it over messages that are really stored (a cache with holes would hand a later tab a gap).
 * The cached messages are one run ending at the cursor: beyond its limits the oldest go first, and
 * older messages join only right before the oldest one kept. The cursor itself always stays.
 */
export interface InboxStore {
  cursor(room: string): Promise<RoomCursor | undefined>;
  /**
   * Stores messages that continue a view from seq `from` (none: a hole the log's retention made) and
   * moves the cursor to `cursor` if it stood within [from, cursor.lastSeq) in the same lineage (else
   * writes nothing); then keeps only what `limits` allow, and none up to `dropThrough` (before a
   * trimmed hole). One transaction.
   */
  commit(cursor: RoomCursor, from: number, messages: readonly LogMessage[], limits: CacheLimits, dropThrough?: number): Promise<void>;
  /**
   * Starts a room's cache over (the log was lost or diverged) if the stored cursor still follows
   * `expected`; answers the cursor stored afterwards (another tab's, when it reset first).
   */
  reset(expected: CacheLineage | undefined, next: RoomCursor): Promise<RoomCursor>;
  /** Caches older messages (below the cursor) read for a tab scrolling back, if the cache follows `lineage`; one transaction. */
  addOlder(room: string, lineage: CacheLineage, messages: readonly LogMessage[], limits: CacheLimits): Promise<void>;
  /** The cached messages with seq in [fromSeq, toSeq], if the cache follows `lineage`; else none. */
  history(room: string, lineage: CacheLineage, fromSeq: number, toSeq: number): Promise<StoredMessage[]>;
  /**
   * The cached entries before `before`, newest first back to the `count`-th message (annotations
   * between messages come along, as in a backward page), in seq order; none if the cache does not follow `lineage`.
   */
  lastMessages(room: string, lineage: CacheLineage, before: number, count: number): Promise<StoredMessage[]>;
}

const follows = (stored: RoomCursor, lineage: CacheLineage) => stored.epoch === lineage.epoch && (stored.branch ?? '') === lineage.branch;

const roomRange = (room: string) => IDBKeyRange.bound([room, 0], [room, Number.MAX_SAFE_INTEGER]);

type Inbox = IDBPObjectStore<PartylineSchema, ('inbox' | 'cursors')[], 'inbox', 'readwrite'>;

/** What the room's cached messages take: as the cursor says, or measured once if an older SDK wrote it. */
async function cachedBytes(inbox: Inbox, stored: RoomCursor): Promise<number> {
  let bytes = stored.bytes ?? 0;
  if (stored.bytes === undefined) for (let at = await inbox.openCursor(roomRange(stored.room)); at; at = await at.continue()) bytes += messageBytes(at.value);
  return bytes;
}

/** Deletes the room's oldest cached messages: every one before `keepFrom`, then more while they take over `maxBytes`. Answers the bytes left. */
async function evict(inbox: Inbox, room: string, bytes: number, keepFrom: number, maxBytes: number): Promise<number> {
  if (keepFrom <= 1 && bytes <= maxBytes) return bytes;
  for (let at = await inbox.openCursor(roomRange(room)); at; at = await at.continue()) {
    if (at.value.seq >= keepFrom && bytes <= maxBytes) return bytes;
    bytes -= messageBytes(at.value);
    await at.delete();
  }
  return 0;
}

export function createInboxStore(db: () => Promise<PartylineDatabase>): InboxStore {
  return {
    async cursor(room) {
      return (await db()).get('cursors', room);
    },

    async commit(cursor, from, messages, limits, dropThrough) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readwrite');
      const inbox = tx.objectStore('inbox');
      const work = async () => {
        const stored = await tx.objectStore('cursors').get(cursor.room);
        if (stored && !follows(stored, { epoch: cursor.epoch, branch: cursor.branch ?? '' })) return;
        // Another tab got further (nothing to add), or the cache stops before `from` (its writes failed): messages past it would be a hole.
        if (stored && (stored.lastSeq < from || stored.lastSeq >= cursor.lastSeq)) return;
        // What the stored cursor already covers is cached (another tab got there first): write only the rest.
        const fresh = messages.filter((message) => message.seq > (stored?.lastSeq ?? 0));
        const bytes = (stored ? await cachedBytes(inbox, stored) : 0) + bytesOf(fresh);
        await Promise.all(fresh.map((message) => inbox.put({ ...message, room: cursor.room })));
        const keepFrom = Math.max((dropThrough ?? 0) + 1, cursor.lastSeq - limits.inboxLimit + 1);
        await tx.objectStore('cursors').put({ ...cursor, bytes: await evict(inbox, cursor.room, bytes, keepFrom, limits.inboxMaxBytes) });
      };
      await Promise.all([work(), tx.done]);
    },

    async reset(expected, next) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readwrite');
      const work = async (): Promise<RoomCursor> => {
        const stored = await tx.objectStore('cursors').get(next.room);
        if (stored && (!expected || !follows(stored, expected))) return stored;
        await tx.objectStore('inbox').delete(roomRange(next.room));
        await tx.objectStore('cursors').put({ ...next, bytes: 0 });
        return next;
      };
      const [after] = await Promise.all([work(), tx.done]);
      return after;
    },

    async addOlder(room, lineage, messages, limits) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readwrite');
      const work = async () => {
        const stored = await tx.objectStore('cursors').get(room);
        if (!stored || !follows(stored, lineage)) return;
        const inbox = tx.objectStore('inbox');
        // Only a run that ends right before the oldest message kept: the cache stays one run.
        const oldest = (await inbox.openKeyCursor(roomRange(room)))?.key[1] ?? stored.lastSeq + 1;
        const run = messages.filter((m) => m.seq < oldest);
        if (run.at(-1)?.seq !== oldest - 1) return;
        const bytes = (await cachedBytes(inbox, stored)) + bytesOf(run);
        await Promise.all(run.map((m) => inbox.put({ ...m, room })));
        await tx.objectStore('cursors').put({ ...stored, bytes: await evict(inbox, room, bytes, stored.lastSeq - limits.inboxLimit + 1, limits.inboxMaxBytes) });
      };
      await Promise.all([work(), tx.done]);
    },

    async lastMessages(room, lineage, before, count) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readonly');
      const stored = await tx.objectStore('cursors').get(room);
      const run: StoredMessage[] = [];
      if (stored && follows(stored, lineage) && before > 1) {
        let messages = 0;
        const range = IDBKeyRange.bound([room, 0], [room, before - 1]);
        for (let at = await tx.objectStore('inbox').openCursor(range, 'prev'); at && messages < count; at = await at.continue()) {
          run.push(at.value);
          if (!isAnnotationType(at.value.type)) messages++;
        }
      }
      await tx.done;
      return run.reverse();
    },

    async history(room, lineage, fromSeq, toSeq) {
      if (toSeq < fromSeq) return [];
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readonly');
      const [stored, messages] = await Promise.all([
        tx.objectStore('cursors').get(room),
        tx.objectStore('inbox').getAll(IDBKeyRange.bound([room, fromSeq], [room, toSeq])),
        tx.done,
      ]);
      return stored && follows(stored, lineage) ? messages : [];
    },
  };
}
