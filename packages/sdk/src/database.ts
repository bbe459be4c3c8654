import { wrap, type DBSchema, type IDBPDatabase } from 'idb';
import type { SummarizedMessage } from './message-fold.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
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
  /** What the room's cached messages take (see messageBytes); unknown in cursors older SDK versions wrote. */
  bytes?: number;
}

/** A received message as cached locally (body still the raw JSON text), with its page's summary if it had one. */
export type StoredMessage = SummarizedMessage & { room: string };

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
 *
 * A tab of an older SDK keeps using a database a newer one upgraded as long as the stores it knows
 * are still there with their key paths (see `compatible`): a later version may add stores and
 * indexes, but one that changes what an existing store's records look like must use a new store name.
 */
const VERSION = 3;

/** The stores this version reads and writes, with their key paths. */
const STORES = { outbox: ['room', 'id'], inbox: ['room', 'seq'], cursors: 'room' } as const;
type StoreName = keyof typeof STORES;

/**
 * Opens (creating or upgrading on first use) the SDK's database through the given factory — the page's
 * `indexedDB`, or an injected one such as fake-indexeddb in Node. idb's `openDB` always uses the
 * global factory, so the open request is made here and wrapped. `onBlocked`: an open tab holds an
 * older version and the upgrade waits for it (the promise settles only once that tab lets go).
 */
export async function openDatabase(factory: IDBFactory, name: string, onBlocked?: () => void): Promise<PartylineDatabase> {
  try {
    return await openVersion(factory, name, VERSION, onBlocked);
  } catch (error) {
    if ((error as { name?: unknown } | null)?.name !== 'VersionError') throw error;
  }
  // A newer SDK in another tab upgraded the database: use it as it is, if it still has our stores.
  const db = await openVersion(factory, name, undefined, onBlocked);
  if (compatible(db)) return db;
  db.close();
  throw new PartylineError(PartylineErrorKind.Storage, `a newer SDK in another tab changed the database "${name}": reload`, { retryable: false });
}

function compatible(db: PartylineDatabase): boolean {
  const stores = Object.keys(STORES) as StoreName[];
  if (!stores.every((store) => db.objectStoreNames.contains(store))) return false;
  const tx = db.transaction(stores, 'readonly');
  tx.done.catch(() => {});
  return stores.every((store) => JSON.stringify(tx.objectStore(store).keyPath) === JSON.stringify(STORES[store]));
}

function openVersion(factory: IDBFactory, name: string, version: number | undefined, onBlocked: (() => void) | undefined): Promise<PartylineDatabase> {
  const request = version === undefined ? factory.open(name) : factory.open(name, version);
  if (onBlocked) request.addEventListener('blocked', onBlocked);
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

/**
 * The client's database connection, opened on first use and opened again after it went away: another
 * tab upgrading (or deleting) the database closes it (`versionchange`), and the browser may close it
 * (storage cleared). The next operation reopens it instead of failing for the rest of the tab's life.
 */
export interface DatabaseHandle {
  /**
   * The open database. Rejects at once with a retryable `storage` error while an older tab blocks the
   * upgrade (the open goes on in the background, so a later call succeeds once that tab lets go).
   */
  get(): Promise<PartylineDatabase>;
  /** Closes it for good (an open still under way closes when it completes). */
  close(): void;
}

type HandleState =
  | { kind: 'closed' }
  | { kind: 'opening'; waiters: { resolve(db: PartylineDatabase): void; reject(error: unknown): void }[]; blocked: PartylineError | undefined }
  | { kind: 'open'; db: PartylineDatabase }
  | { kind: 'shut' };

export function createDatabaseHandle(factory: IDBFactory, name: string): DatabaseHandle {
  let state: HandleState = { kind: 'closed' };

  const open = (): void => {
    const opening: Extract<HandleState, { kind: 'opening' }> = { kind: 'opening', waiters: [], blocked: undefined };
    state = opening;
    const onBlocked = () => {
      // Never wait on another tab without a word: every waiting operation fails now, retryable.
      opening.blocked = new PartylineError(PartylineErrorKind.Storage, `another tab holds the database "${name}" at an older version: close or reload it`, { retryable: true });
      for (const waiter of opening.waiters.splice(0)) waiter.reject(opening.blocked);
    };
    openDatabase(factory, name, onBlocked).then(
      (db) => {
        if (state !== opening) return db.close();
        state = { kind: 'open', db };
        const lost = () => {
          if (state.kind === 'open' && state.db === db) state = { kind: 'closed' };
        };
        db.addEventListener('versionchange', lost);
        db.addEventListener('close', lost);
        for (const waiter of opening.waiters.splice(0)) waiter.resolve(db);
      },
      (error: unknown) => {
        if (state === opening) state = { kind: 'closed' };
        const failure = toPartylineError(error);
        for (const waiter of opening.waiters.splice(0)) waiter.reject(failure);
      },
    );
  };

  return {
    get() {
      if (state.kind === 'shut') return Promise.reject(new PartylineError(PartylineErrorKind.Closed, 'the client is closed'));
      if (state.kind === 'open') return Promise.resolve(state.db);
      if (state.kind === 'closed') open();
      const opening = state as Extract<HandleState, { kind: 'opening' }>;
      if (opening.blocked) return Promise.reject(opening.blocked);
      return new Promise((resolve, reject) => opening.waiters.push({ resolve, reject }));
    },
    close() {
      if (state.kind === 'open') state.db.close();
      if (state.kind === 'opening') {
        const error = new PartylineError(PartylineErrorKind.Closed, 'the client is closed');
        for (const waiter of state.waiters.splice(0)) waiter.reject(error);
      }
      state = { kind: 'shut' };
    },
  };
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
