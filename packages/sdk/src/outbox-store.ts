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

/** What names one outbox entry: its room and id. */
export type OutboxKey = Pick<OutboxEntry, 'room' | 'id'>;

/**
 * What the `outbox` object store holds: entries one transaction queued for one room, in publish
 * order, keyed `[room, id of the first]`. A record per group rather than per message because a
 * browser's IndexedDB pays per record, not per byte: Chromium 150 stores 3,500–4,200 records/s
 * whatever the transaction size, and 71,000 messages/s packed 100 to a record (bench/README).
 */
export interface OutboxRecord {
  room: string;
  id: string;
  entries: OutboxEntry[];
}

/** Most entries in one record: a publish request's worth, so a sent batch mostly deletes whole records. */
export const MAX_RECORD_ENTRIES = 100;

/**
 * The durable outbox. Every method is one IndexedDB transaction; the `add`s of one turn share a
 * transaction (and a record per room), and so do those that arrive while earlier ones are being
 * written (group commit). Each resolves only once the transaction holding its entry has committed;
 * transactions commit in the order they were started, so entries are stored in `add` order.
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

/** Adds written in one transaction, and the one promise they all resolve with (not a promise per add). */
interface WriteGroup {
  entries: OutboxEntry[];
  committed: Promise<void>;
  settle(error?: unknown): void;
}

function createWriteGroup(): WriteGroup {
  let settle!: (error?: unknown) => void;
  const committed = new Promise<void>((resolve, reject) => (settle = (error) => (error === undefined ? resolve() : reject(error))));
  return { entries: [], committed, settle };
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
  let queued: WriteGroup | undefined;
  let writing = 0;
  /** The record each listed entry was read from, so removing or retrying it reads that record alone. */
  const recordOf = new WeakMap<OutboxKey, RecordKey>();

  /** Starts a transaction for everything queued, unless `MAX_WRITES` are in flight already (then it waits its turn). */
  function writeQueued(): void {
    while (writing < MAX_WRITES && queued) {
      const group = queued;
      queued = undefined;
      writing++;
      void write(group).finally(() => {
        writing--;
        writeQueued();
      });
    }
  }

  async function write(group: WriteGroup): Promise<void> {
    try {
      // The raw IndexedDB objects, not idb's proxies: this runs once per group commit, at thousands a
      // second, and a failing add aborts the transaction anyway, so no promise per request is needed.
      const tx = unwrap(await db()).transaction('outbox', 'readwrite', addOptions);
      const committed = new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onabort = () => reject(tx.error ?? new DOMException('outbox write aborted', 'AbortError'));
      });
      const store = tx.objectStore('outbox');
      try {
        for (const record of toRecords(group.entries)) store.add(record);
      } catch (error) {
        committed.catch(() => {}); // the abort below rejects it; the caller hears `error` instead
        tx.abort(); // all or nothing: no entry of a group the caller hears failed may commit
        throw error;
      }
      // Nothing more comes in this transaction: commit now instead of after every add's success
      // event has made the round trip to this thread (browsers without commit(): it autocommits).
      if (typeof tx.commit === 'function') tx.commit();
      await committed;
      group.settle();
    } catch (error) {
      // The transaction aborted as a whole: none of its entries is queued, and every caller hears so.
      group.settle(error ?? new Error('outbox write failed'));
    }
  }

  /**
   * Applies `edit` to the stored entries named by `keys` in one transaction (`undefined` drops the
   * entry); answers the keys that were still there. Records are read again inside the transaction,
   * so another tab's removal in between is seen, never undone.
   */
  async function editEntries<K extends OutboxKey>(keys: readonly K[], edit: (entry: OutboxEntry) => OutboxEntry | undefined): Promise<K[]> {
    if (keys.length === 0) return [];
    const tx = (await db()).transaction('outbox', 'readwrite', relaxed);
    // Keys this store did not list (another store's, or a caller's own objects): find their records by reading their rooms.
    const located = new Map<string, RecordKey>();
    for (const room of new Set(keys.filter((key) => !recordOf.has(key)).map((key) => key.room))) {
      for (const record of await tx.store.getAll(roomRange(room))) for (const entry of record.entries) located.set(nameOf(room, entry.id), [record.room, record.id]);
    }
    const byRecord = new Map<string, { record: RecordKey; keys: Map<string, K> }>();
    for (const key of keys) {
      const record = recordOf.get(key) ?? located.get(nameOf(key.room, key.id));
      if (!record) continue;
      const name = nameOf(...record);
      let wanted = byRecord.get(name);
      if (!wanted) byRecord.set(name, (wanted = { record, keys: new Map() }));
      wanted.keys.set(key.id, key);
    }
    const found: K[] = [];
    await Promise.all([
      ...[...byRecord.values()].map(async ({ record, keys: wanted }) => {
        const stored = await tx.store.get(record);
        if (!stored) return;
        const kept: OutboxEntry[] = [];
        for (const entry of stored.entries) {
          const key = wanted.get(entry.id);
          const edited = key ? edit(entry) : entry;
          if (key) found.push(key);
          if (edited) kept.push(edited);
        }
        // The record keeps its key when its first entry goes: order among records stays publish order.
        await (kept.length === 0 ? tx.store.delete(record) : tx.store.put({ ...stored, entries: kept }));
      }),
      tx.done,
    ]);
    return found;
  }

  return {
    add(entry) {
      // The adds of this turn go together (a burst of publishes is one transaction, not one plus the rest).
      if (!queued) {
        queued = createWriteGroup();
        queueMicrotask(writeQueued);
      }
      queued.entries.push(entry);
      return queued.committed;
    },

    async list(room) {
      const records = await (await db()).getAll('outbox', room === undefined ? undefined : roomRange(room));
      const entries: OutboxEntry[] = [];
      for (const record of records) {
        for (const entry of record.entries) {
          recordOf.set(entry, [record.room, record.id]);
          entries.push(entry);
        }
      }
      // Records are in [room, first id] order; tabs' records of one room interleave, so order the entries by id.
      return records.length > 1 ? entries.sort(byRoomThenId) : entries;
    },

    remove(keys) {
      return editEntries(keys, () => undefined);
    },

    async countAttempt(keys) {
      await editEntries(keys, (entry) => ({ ...entry, attempts: entry.attempts + 1 }));
    },
  };
}

type RecordKey = [room: string, id: string];

/** Every key of a room sorts between [room] and [room, []] (arrays sort after strings). */
function roomRange(room: string): IDBKeyRange {
  return IDBKeyRange.bound([room], [room, []]);
}

function nameOf(room: string, id: string): string {
  return `${room}\u0000${id}`;
}

/** IndexedDB's order: strings by UTF-16 code units, as `<` compares them. */
function byRoomThenId(a: OutboxEntry, b: OutboxEntry): number {
  if (a.room !== b.room) return a.room < b.room ? -1 : 1;
  return byId(a, b);
}

/** Publish order within a room (ids are time-ordered). */
export function byId(a: OutboxEntry, b: OutboxEntry): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A write group's entries as records: per room, in add order, at most MAX_RECORD_ENTRIES each. */
function toRecords(entries: readonly OutboxEntry[]): OutboxRecord[] {
  const records: OutboxRecord[] = [];
  const open = new Map<string, OutboxRecord>();
  for (const entry of entries) {
    let record = open.get(entry.room);
    if (!record || record.entries.length === MAX_RECORD_ENTRIES) {
      record = { room: entry.room, id: entry.id, entries: [] };
      open.set(entry.room, record);
      records.push(record);
    }
    record.entries.push(entry);
  }
  return records;
}
