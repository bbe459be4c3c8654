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

/** What names one outbox entry: its room and id (the store's key is `[room, id]`). */
export type OutboxKey = Pick<OutboxEntry, 'room' | 'id'>;

/**
 * The durable outbox. Every method is one IndexedDB transaction; the `add`s of one turn share a
 * transaction, and so do those that arrive while earlier ones are being written (group commit). Each
 * resolves only once the transaction holding its entry has committed; transactions commit in the
 * order they were started, so entries are stored in `add` order.
 */
export interface OutboxStore {
  add(entry: OutboxEntry): Promise<void>;
  /** One room's entries in publish order (ids are time-ordered); without a room, every room's, room by room. */
  list(room?: string): Promise<OutboxEntry[]>;
  /** Removes entries; answers those of `keys` that were still there (so only one tab reports each). */
  remove<K extends OutboxKey>(keys: readonly K[]): Promise<K[]>;
  /** Counts one more failed attempt for each entry still present. */
  countAttempt(keys: readonly OutboxKey[]): Promise<void>;
}

/**
 * How durable a committed `add` is (IndexedDB's transaction `durability`):
 * - `relaxed`: committed once the browser handed the write to the operating system. Survives a
 *   crashed or closed tab and a crashed browser; a power loss or an OS crash may lose the latest
 *   writes. Chromium's own default.
 * - `strict`: committed once flushed to disk (fsync): survives power loss too, at the price of a
 *   disk flush per write, which on most disks takes milliseconds.
 */
export type OutboxDurability = 'relaxed' | 'strict';

export interface OutboxStoreOptions {
  /** How durable an entry is once `add` resolves. @default 'relaxed' */
  durability?: OutboxDurability;
}

interface Queued {
  entry: OutboxEntry;
  settle(error?: unknown): void;
}

/**
 * Transactions writing adds at once. The second is built and handed to IndexedDB while the first
 * commits (IndexedDB runs them in order), so the page's work and the database's overlap; more would
 * only make groups smaller.
 */
const MAX_WRITES = 2;

export function createOutboxStore(db: () => Promise<PartylineDatabase>, options: OutboxStoreOptions = {}): OutboxStore {
  // Only `add` is durable as configured: a removal lost to a power cut sends an entry again, which
  // the relay deduplicates; a lost add would lose a message the app was told is queued.
  const addOptions: IDBTransactionOptions = { durability: options.durability ?? 'relaxed' };
  const relaxed: IDBTransactionOptions = { durability: 'relaxed' };
  let queued: Queued[] = [];
  let writing = 0;

  /** Starts a transaction for everything queued, unless `MAX_WRITES` are in flight already (then it waits its turn). */
  function writeQueued(): void {
    while (writing < MAX_WRITES && queued.length > 0) {
      const group = queued;
      queued = [];
      writing++;
      void write(group).finally(() => {
        writing--;
        writeQueued();
      });
    }
  }

  async function write(group: Queued[]): Promise<void> {
    try {
      const tx = (await db()).transaction('outbox', 'readwrite', addOptions);
      // Raw requests, no promise per entry: a failing add aborts the transaction, which rejects `done`.
      const store = unwrap(tx.store);
      try {
        for (const { entry } of group) store.add(entry);
      } catch (error) {
        tx.abort(); // all or nothing: no entry of a group the caller hears failed may commit
        throw error;
      }
      // Nothing more comes in this transaction: commit now instead of after every add's success
      // event has made the round trip to this thread (browsers without commit(): it autocommits).
      const raw = store.transaction;
      if (typeof raw.commit === 'function') raw.commit();
      await tx.done;
      for (const { settle } of group) settle();
    } catch (error) {
      // The transaction aborted as a whole: none of its entries is queued, and every caller hears so.
      for (const { settle } of group) settle(error ?? new Error('outbox write failed'));
    }
  }

  return {
    add(entry) {
      return new Promise<void>((resolve, reject) => {
        // The adds of this turn go together (a burst of publishes is one transaction, not one plus the rest).
        if (queued.push({ entry, settle: (error) => (error === undefined ? resolve() : reject(error)) }) === 1) queueMicrotask(writeQueued);
      });
    },

    async list(room) {
      const database = await db();
      // Every key of a room sorts between [room] and [room, []] (arrays sort after strings).
      return database.getAll('outbox', room === undefined ? undefined : IDBKeyRange.bound([room], [room, []]));
    },

    async remove(keys) {
      if (keys.length === 0) return [];
      const tx = (await db()).transaction('outbox', 'readwrite', relaxed);
      const store = unwrap(tx.store);
      const removed: (typeof keys)[number][] = [];
      for (const key of keys) {
        // Requests run in order: the count sees the entry as it was before this delete.
        const count = store.count([key.room, key.id]);
        count.onsuccess = () => {
          if (count.result > 0) removed.push(key);
        };
        store.delete([key.room, key.id]);
      }
      await tx.done;
      return removed;
    },

    async countAttempt(keys) {
      if (keys.length === 0) return;
      const tx = (await db()).transaction('outbox', 'readwrite', relaxed);
      await Promise.all([
        ...keys.map(async ({ room, id }) => {
          const entry = await tx.store.get([room, id]);
          if (entry) await tx.store.put({ ...entry, attempts: entry.attempts + 1 });
        }),
        tx.done,
      ]);
    },
  };
}
