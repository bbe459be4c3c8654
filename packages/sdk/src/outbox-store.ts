import { unwrap } from 'idb';
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
  /**
   * The identity (token `sub`) it was queued under, when known: only a client of that identity sends
   * it, so another account signed in later in the same profile never speaks for this one.
   */
  sender?: string;
}

/**
 * The durable outbox. Every method is one IndexedDB transaction; `add`s that arrive while an earlier
 * `add` is being written share the next transaction (group commit), and each resolves only once the
 * transaction holding its entry has committed.
 */
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
  let queued: { entry: OutboxEntry; settle: (error?: unknown) => void }[] = [];
  let writing = false;

  /** Writes queued entries, a transaction per group, until none are left. */
  async function writeQueued(): Promise<void> {
    writing = true;
    while (queued.length > 0) {
      const group = queued;
      queued = [];
      try {
        const tx = (await db()).transaction('outbox', 'readwrite');
        // Raw requests, no promise per entry: a failing add aborts the transaction, which rejects `done`.
        const store = unwrap(tx.store);
        try {
          for (const { entry } of group) store.add(entry);
        } catch (error) {
          tx.abort(); // all or nothing: no entry of a group the caller hears failed may commit
          throw error;
        }
        await tx.done;
        for (const { settle } of group) settle();
      } catch (error) {
        // The transaction aborted as a whole: none of its entries is queued, and every caller hears so.
        for (const { settle } of group) settle(error ?? new Error('outbox write failed'));
      }
    }
    writing = false;
  }

  return {
    add(entry) {
      return new Promise<void>((resolve, reject) => {
        queued.push({ entry, settle: (error) => (error === undefined ? resolve() : reject(error)) });
        if (!writing) void writeQueued();
      });
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
