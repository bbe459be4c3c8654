import type { LogMessage } from '@partyline/protocol';
import type { PartylineDatabase, RoomCursor, StoredMessage } from './database.js';

/** Which history a tab follows: the log's epoch and the cache's branch within it. */
export interface CacheLineage {
  epoch: string;
  branch: string;
}

/**
 * The profile's shared inbox cache: per room a cursor plus the messages up to it. Tabs share it, so
 * every write is guarded: never mix two epochs or two branches, never move the cursor back, and only
 * move it over messages that are really stored (a cache with holes would hand a later tab a gap).
 */
export interface InboxStore {
  cursor(room: string): Promise<RoomCursor | undefined>;
  /**
   * Stores messages that continue a view from seq `from` (none: a hole the log's retention made) and
   * moves the cursor to `cursor` if it stood within [from, cursor.lastSeq) in the same lineage; then
   * keeps only the newest `keep` seqs of the room, and none up to `dropThrough` (before a trimmed hole).
   * One transaction.
   */
  commit(cursor: RoomCursor, from: number, messages: readonly LogMessage[], keep: number, dropThrough?: number): Promise<void>;
  /**
   * Starts a room's cache over (the log was lost or diverged) if the stored cursor still follows
   * `expected`; answers the cursor stored afterwards (another tab's, when it reset first).
   */
  reset(expected: CacheLineage | undefined, next: RoomCursor): Promise<RoomCursor>;
  /** Caches older messages (below the cursor) read for a tab scrolling back, if the cache follows `lineage`; one transaction. */
  addOlder(room: string, lineage: CacheLineage, messages: readonly LogMessage[], keep: number): Promise<void>;
  /** The cached messages with seq in [fromSeq, toSeq], if the cache follows `lineage`; else none. */
  history(room: string, lineage: CacheLineage, fromSeq: number, toSeq: number): Promise<StoredMessage[]>;
}

const follows = (stored: RoomCursor, lineage: CacheLineage) => stored.epoch === lineage.epoch && (stored.branch ?? '') === lineage.branch;

export function createInboxStore(db: () => Promise<PartylineDatabase>): InboxStore {
  return {
    async cursor(room) {
      return (await db()).get('cursors', room);
    },

    async commit(cursor, from, messages, keep, dropThrough) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readwrite');
      const inbox = tx.objectStore('inbox');
      const cursors = tx.objectStore('cursors');
      const work = async () => {
        const stored = await cursors.get(cursor.room);
        if (stored && !follows(stored, { epoch: cursor.epoch, branch: cursor.branch ?? '' })) return;
        // What the stored cursor already covers is cached (another tab got there first): write only the rest.
        const covered = stored && stored.lastSeq >= from ? stored.lastSeq : 0;
        await Promise.all(messages.filter((message) => message.seq > covered).map((message) => inbox.put({ ...message, room: cursor.room })));
        const moves = !stored || (stored.lastSeq >= from && stored.lastSeq < cursor.lastSeq);
        if (moves) await cursors.put(cursor);
        if (moves && dropThrough !== undefined) await inbox.delete(IDBKeyRange.bound([cursor.room, 0], [cursor.room, dropThrough]));
        // Keep the newest `keep` seqs: one range delete, not a delete per message.
        const oldestKept = cursor.lastSeq - keep + 1;
        if (keep !== Infinity && oldestKept > 1) await inbox.delete(IDBKeyRange.bound([cursor.room, 0], [cursor.room, oldestKept - 1]));
      };
      await Promise.all([work(), tx.done]);
    },

    async reset(expected, next) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readwrite');
      const work = async (): Promise<RoomCursor> => {
        const stored = await tx.objectStore('cursors').get(next.room);
        if (stored && (!expected || !follows(stored, expected))) return stored;
        const range = IDBKeyRange.bound([next.room, 0], [next.room, Number.MAX_SAFE_INTEGER]);
        await tx.objectStore('inbox').delete(range);
        await tx.objectStore('cursors').put(next);
        return next;
      };
      const [after] = await Promise.all([work(), tx.done]);
      return after;
    },

    async addOlder(room, lineage, messages, keep) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readwrite');
      const work = async () => {
        const stored = await tx.objectStore('cursors').get(room);
        if (!stored || !follows(stored, lineage)) return;
        const oldestKept = stored.lastSeq - keep + 1;
        const inbox = tx.objectStore('inbox');
        await Promise.all(messages.filter((m) => m.seq <= stored.lastSeq && m.seq >= oldestKept).map((m) => inbox.put({ ...m, room })));
      };
      await Promise.all([work(), tx.done]);
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
