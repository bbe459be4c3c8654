import { wrap, type DBSchema, type IDBPDatabase } from 'idb';
import type { LogMessage } from '@partyline/protocol';
import type { OutboxEntry, OutboxRecord } from './outbox-store.js';

/**
 * How far the profile's shared cache of a room goes: the log's epoch, the last cached sequence and
 * its id, and the history `branch` within the epoch (see ViewPosition). Cursors written by older SDK
 * versions lack `lastId` and `branch` (read as unknown and '').
 */
export interface RoomCursor {
  room: string;
  epoch: string;
  lastSeq: number;
  lastId?: string;
  branch?: string;
}

/** A received message as cached locally (body still the raw JSON text). */
export type StoredMessage = LogMessage & { room: string };

export interface PartylineSchema extends DBSchema {
  /** Records of entries keyed by `[room, first id]`: a room's records are one key range, in publish order (ids are time-ordered). */
  outbox: { key: [string, string]; value: OutboxRecord };
  inbox: { key: [string, number]; value: StoredMessage; indexes: { room: string } };
  cursors: { key: string; value: RoomCursor };
}

export type PartylineDatabase = IDBPDatabase<PartylineSchema>;

/**
 * Schema versions (each step runs in the upgrade's versionchange transaction: all or nothing, so a
 * crash or an error mid-upgrade leaves the previous version as it was):
 * 1. `outbox` keyed by `id` with a `room` index; `inbox` keyed by `[room, seq]` with a `room` index;
 *    `cursors` keyed by `room`.
 * 2. `outbox` keyed by `[room, id]`, no index: one B-tree entry per queued message instead of two
 *    (the write `publish` waits for), a room's entries are a key range. Queued entries are kept.
 * 3. `outbox` records hold the entries of one write (up to 100, one room) instead of one each:
 *    browsers pay IndexedDB per record. Queued entries are kept, each in a record of its own.
 */
const VERSION = 3;

/**
 * Opens (creating or upgrading on first use) the SDK's database through the given factory — the page's
 * `indexedDB`, or an injected one such as fake-indexeddb in Node. idb's `openDB` always uses the
 * global factory, so the open request is made here and wrapped.
 */
export function openDatabase(factory: IDBFactory, name: string): Promise<PartylineDatabase> {
  const request = factory.open(name, VERSION);
  request.addEventListener('upgradeneeded', (event) => {
    const db = request.result;
    if (event.oldVersion < 1) {
      createOutbox(db);
      db.createObjectStore('inbox', { keyPath: ['room', 'seq'] }).createIndex('room', 'room');
      db.createObjectStore('cursors', { keyPath: 'room' });
    } else if (event.oldVersion < 3) {
      outboxToV3(db, request.transaction!);
    }
  });
  return (wrap(request) as Promise<PartylineDatabase>).then((db) => {
    // Another tab upgrading to a newer SDK: step aside instead of blocking it forever.
    db.addEventListener('versionchange', () => db.close());
    return db;
  });
}

function createOutbox(db: IDBDatabase): IDBObjectStore {
  return db.createObjectStore('outbox', { keyPath: ['room', 'id'] });
}

/**
 * 1 or 2 → 3: reads every queued entry (one per record in both), replaces the store and writes each
 * back as a record of one, inside the upgrade transaction (if it aborts or the page dies before it
 * commits, the old version stays whole).
 */
function outboxToV3(db: IDBDatabase, upgrade: IDBTransaction): void {
  const read = upgrade.objectStore('outbox').getAll();
  read.addEventListener('success', () => {
    const entries = read.result as OutboxEntry[];
    db.deleteObjectStore('outbox');
    const outbox = createOutbox(db);
    // Every older entry has both (the SDK wrote them); anything else could never have been sent.
    for (const entry of entries) {
      if (typeof entry.room === 'string' && typeof entry.id === 'string') outbox.put({ room: entry.room, id: entry.id, entries: [entry] } satisfies OutboxRecord);
    }
  });
}
