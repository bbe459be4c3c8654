import type { PartylineDatabase } from './database.js';

/** One unsent message, exactly as it will be sent again after a reload. */
export interface OutboxEntry {
  /** Client-made idempotency key (UUIDv7); the relay dedups on it. */
  id: string;
  room: string;
  type: string;
  /** The body as JSON text, as it goes on the wire. */
  body: string;
  /** Epoch ms when `publish` queued it. */
  createdAt: number;
  /** Failed send attempts so far. */
  attempts: number;
}

/** The durable outbox. Every method is one IndexedDB transaction. */
export interface OutboxStore {
  add(entry: OutboxEntry): Promise<void>;
  /** Entries in publish order (ids are time-ordered), of one room or of all. */
  list(room?: string): Promise<OutboxEntry[]>;
  /** Removes entries; answers the ids that were still there (so only one tab reports each). */
  remove(ids: readonly string[]): Promise<string[]>;
  /** Counts one more failed attempt for each entry still present. */
  countAttempt(ids: readonly string[]): Promise<void>;
}

export function createOutboxStore(db: () => Promise<PartylineDatabase>): OutboxStore {
  return {
    async add(entry) {
      const tx = (await db()).transaction('outbox', 'readwrite');
      await Promise.all([tx.store.add(entry), tx.done]);
    },

    async list(room) {
      const database = await db();
      return room === undefined ? database.getAll('outbox') : database.getAllFromIndex('outbox', 'room', room);
    },

    async remove(ids) {
      if (ids.length === 0) return [];
      const tx = (await db()).transaction('outbox', 'readwrite');
      const removed: string[] = [];
      await Promise.all([
        ...ids.map(async (id) => {
          if ((await tx.store.count(id)) === 0) return;
          removed.push(id);
          await tx.store.delete(id);
        }),
        tx.done,
      ]);
      return removed;
    },

    async countAttempt(ids) {
      if (ids.length === 0) return;
      const tx = (await db()).transaction('outbox', 'readwrite');
      await Promise.all([
        ...ids.map(async (id) => {
          const entry = await tx.store.get(id);
          if (entry) await tx.store.put({ ...entry, attempts: entry.attempts + 1 });
        }),
        tx.done,
      ]);
    },
  };
}
