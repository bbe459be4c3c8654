import type { LogMessage } from '@partyline/protocol';
import type { PartylineDatabase, RoomCursor, StoredMessage } from './database.js';

/** The local inbox: each room's cursor plus a bounded cache of its latest messages. */
export interface InboxStore {
  cursor(room: string): Promise<RoomCursor | undefined>;
  /**
   * Stores delivered messages and the new cursor in one transaction, then trims the room's cache
   * to `keep` messages — so a crash can never move the cursor past a message that was not stored.
   */
  commit(cursor: RoomCursor, messages: readonly LogMessage[], keep: number): Promise<void>;
  /** Forgets a room's cached history (its log was lost) and stores the new cursor. */
  reset(cursor: RoomCursor): Promise<void>;
  /** The cached messages of a room in sequence order. */
  history(room: string): Promise<StoredMessage[]>;
}

export function createInboxStore(db: () => Promise<PartylineDatabase>): InboxStore {
  return {
    async cursor(room) {
      return (await db()).get('cursors', room);
    },

    async commit(cursor, messages, keep) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readwrite');
      const inbox = tx.objectStore('inbox');
      const cursors = tx.objectStore('cursors');
      const work = async () => {
        // Tabs share this row: never move it back, and never mix another epoch's cache into it
        // (a tab that reset to a newer epoch wrote that epoch; this tab will reset too).
        const stored = await cursors.get(cursor.room);
        if (stored && stored.epoch !== cursor.epoch) return;
        await Promise.all(messages.map((message) => inbox.put({ ...message, room: cursor.room })));
        if (!stored || stored.lastSeq < cursor.lastSeq) await cursors.put(cursor);
        const index = inbox.index('room');
        let excess = (await index.count(cursor.room)) - keep;
        if (excess <= 0) return;
        for (let at = await index.openCursor(cursor.room); at && excess > 0; at = await at.continue(), excess--) {
          await at.delete();
        }
      };
      await Promise.all([work(), tx.done]);
    },

    async reset(cursor) {
      const tx = (await db()).transaction(['inbox', 'cursors'], 'readwrite');
      const work = async () => {
        for (let at = await tx.objectStore('inbox').index('room').openCursor(cursor.room); at; at = await at.continue()) {
          await at.delete();
        }
        await tx.objectStore('cursors').put(cursor);
      };
      await Promise.all([work(), tx.done]);
    },

    async history(room) {
      return (await db()).getAllFromIndex('inbox', 'room', room);
    },
  };
}
