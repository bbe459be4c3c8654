import { wrap, type DBSchema, type IDBPDatabase } from 'idb';
import type { LogMessage } from '@partyline/protocol';
import type { OutboxEntry } from './outbox-store.js';

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
  outbox: { key: string; value: OutboxEntry; indexes: { room: string } };
  inbox: { key: [string, number]; value: StoredMessage; indexes: { room: string } };
  cursors: { key: string; value: RoomCursor };
}

export type PartylineDatabase = IDBPDatabase<PartylineSchema>;

const VERSION = 1;

/**
 * Opens (creating on first use) the SDK's database through the given factory — the page's
 * `indexedDB`, or an injected one such as fake-indexeddb in Node. idb's `openDB` always uses the
 * global factory, so the open request is made here and wrapped.
 */
export function openDatabase(factory: IDBFactory, name: string): Promise<PartylineDatabase> {
  const request = factory.open(name, VERSION);
  request.addEventListener('upgradeneeded', () => {
    const db = request.result;
    if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: 'id' }).createIndex('room', 'room');
    if (!db.objectStoreNames.contains('inbox')) db.createObjectStore('inbox', { keyPath: ['room', 'seq'] }).createIndex('room', 'room');
    if (!db.objectStoreNames.contains('cursors')) db.createObjectStore('cursors', { keyPath: 'room' });
  });
  return (wrap(request) as Promise<PartylineDatabase>).then((db) => {
    // Another tab upgrading to a newer SDK: step aside instead of blocking it forever.
    db.addEventListener('versionchange', () => db.close());
    return db;
  });
}
