import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { crc32 } from 'node:zlib';
// idb checks results against the global IndexedDB classes: one process, one profile.
import 'fake-indexeddb/auto';
import { IDBCursor, IDBDatabase, IDBFactory, IDBIndex, IDBKeyRange, IDBObjectStore } from 'fake-indexeddb';

/**
 * A durable IndexedDB for a Node process: fake-indexeddb in memory plus a write-ahead journal file.
 *
 * Every readwrite transaction's writes (put/add/delete/clear, cursor update/delete) are appended to
 * the journal with one `write(2)` in the transaction's `complete` dispatch, before any listener of the
 * SDK hears `complete` — so whatever the SDK treats as committed is in the file (the OS page cache),
 * and survives the process being killed -9; a transaction that had not completed leaves nothing, as
 * in a browser. The next process replays the journal (a torn last record is ignored) and compacts it.
 * It does not model a power loss of the client machine (no fsync per transaction).
 *
 * Why not a real IndexedDB in Node: indexeddbshim (IndexedDB over SQLite) needs the native `canvas`
 * package (no prebuilt binary reachable here, no cairo to build it) and, from 17.x, Node 22; its older
 * versions depend on git repositories.
 */
export async function openDurableIndexedDB(file: string): Promise<IDBFactory> {
  installHooks();
  const factory = new IDBFactory();
  const records = existsSync(file) ? readJournal(readFileSync(file)) : [];
  await replay(factory, records);
  // Compact: the current state, written whole, then renamed over the old journal.
  const compacted = `${file}.compact`;
  const fd = openSync(compacted, 'w');
  for (const record of await snapshot(factory, records)) writeSync(fd, frame(record));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(compacted, file);
  const journal: Journal = { fd: openSync(file, 'a') };
  const open = factory.open.bind(factory);
  factory.open = (name: string, version?: number) => {
    const request = open(name, version);
    request.addEventListener('upgradeneeded', () => {
      const db = request.result as unknown as IDBDatabase;
      journalOf.set(db, journal);
      watch(request.transaction!, journal, name, () => schemaOf(db));
    });
    request.addEventListener('success', () => journalOf.set(request.result as unknown as IDBDatabase, journal));
    return request;
  };
  const deleteDatabase = factory.deleteDatabase.bind(factory);
  factory.deleteDatabase = (name: string) => {
    const request = deleteDatabase(name);
    request.addEventListener('success', () => append(journal, { k: 'drop', db: name }));
    return request;
  };
  return factory;
}

interface Journal {
  fd: number;
}

interface StoreSchema {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: { name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }[];
}

type Query = IDBValidKey | { range: true; lower: unknown; upper: unknown; lowerOpen: boolean; upperOpen: boolean } | undefined;

type Op = { o: 'put'; s: string; key: IDBValidKey; value: unknown } | { o: 'del'; s: string; q: Query } | { o: 'clear'; s: string };

type JournalRecord =
  | { k: 'schema'; db: string; version: number; stores: StoreSchema[] }
  | { k: 'tx'; db: string; ops: Op[] }
  | { k: 'drop'; db: string };

const journalOf = new WeakMap<object, Journal>();
const pendingOps = new WeakMap<object, Op[]>();
let hooked = false;

function frame(record: JournalRecord): Buffer {
  const payload = serialize(record);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

function append(journal: Journal, record: JournalRecord): void {
  writeSync(journal.fd, frame(record));
}

/** Records in order; stops at a torn or corrupt tail (a write the kill cut short). */
export function readJournal(data: Buffer): JournalRecord[] {
  const records: JournalRecord[] = [];
  for (let at = 0; at + 8 <= data.length; ) {
    const length = data.readUInt32LE(at);
    const payload = data.subarray(at + 8, at + 8 + length);
    if (payload.length < length || crc32(payload) !== data.readUInt32LE(at + 4)) break;
    records.push(deserialize(payload) as JournalRecord);
    at += 8 + length;
  }
  return records;
}

/** Journals a transaction's writes when it completes (schema first for an upgrade), drops them when it aborts. */
function watch(transaction: IDBTransaction, journal: Journal, db: string, schema?: () => JournalRecord): void {
  pendingOps.set(transaction, []);
  transaction.addEventListener('complete', () => {
    const ops = pendingOps.get(transaction) ?? [];
    pendingOps.delete(transaction);
    if (schema) append(journal, schema());
    if (ops.length > 0) append(journal, { k: 'tx', db, ops });
  });
  transaction.addEventListener('abort', () => pendingOps.delete(transaction));
}

function schemaOf(db: IDBDatabase): JournalRecord {
  const raw = (db as unknown as { _rawDatabase: { rawObjectStores: Map<string, RawStore> } })._rawDatabase;
  const stores = [...raw.rawObjectStores.values()]
    .filter((store) => !store.deleted)
    .map((store) => ({
      name: store.name,
      keyPath: store.keyPath,
      autoIncrement: store.autoIncrement,
      indexes: [...store.rawIndexes.values()].filter((index) => !index.deleted).map(({ name, keyPath, unique, multiEntry }) => ({ name, keyPath, unique, multiEntry })),
    }));
  return { k: 'schema', db: db.name, version: db.version, stores };
}

interface RawStore {
  name: string;
  deleted: boolean;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  rawIndexes: Map<string, { name: string; deleted: boolean; keyPath: string | string[]; unique: boolean; multiEntry: boolean }>;
}

function plainQuery(query: unknown): Query {
  if (query instanceof IDBKeyRange) return { range: true, lower: query.lower, upper: query.upper, lowerOpen: query.lowerOpen, upperOpen: query.upperOpen };
  return query as IDBValidKey | undefined;
}

function keyRangeOf(query: Query): IDBValidKey | IDBKeyRange | undefined {
  if (query && typeof query === 'object' && 'range' in query) {
    const { lower, upper, lowerOpen, upperOpen } = query;
    if (lower === undefined) return IDBKeyRange.upperBound(upper, upperOpen);
    if (upper === undefined) return IDBKeyRange.lowerBound(lower, lowerOpen);
    return IDBKeyRange.bound(lower, upper, lowerOpen, upperOpen);
  }
  return query;
}

/** Wraps the write methods of fake-indexeddb's classes once; only databases of a durable factory are journaled. */
function installHooks(): void {
  if (hooked) return;
  hooked = true;
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof transaction>) {
    const tx = transaction.apply(this, args);
    const journal = journalOf.get(this);
    if (journal && tx.mode !== 'readonly') watch(tx as unknown as IDBTransaction, journal, this.name);
    return tx;
  } as typeof transaction;

  const record = (tx: object, request: { addEventListener(type: 'success', listener: () => void): void }, op: () => Op) => {
    if (!pendingOps.has(tx)) return;
    request.addEventListener('success', () => pendingOps.get(tx)?.push(op()));
  };
  for (const method of ['put', 'add'] as const) {
    const original = IDBObjectStore.prototype[method];
    IDBObjectStore.prototype[method] = function (this: IDBObjectStore, ...args: Parameters<typeof original>) {
      const copy = pendingOps.has(this.transaction) ? structuredClone(args[0]) : undefined;
      const request = original.apply(this, args);
      record(this.transaction, request, () => ({ o: 'put', s: this.name, key: request.result as IDBValidKey, value: copy }));
      return request;
    } as typeof original;
  }
  const remove = IDBObjectStore.prototype.delete;
  IDBObjectStore.prototype.delete = function (this: IDBObjectStore, query: IDBValidKey | IDBKeyRange) {
    const request = remove.call(this, query);
    record(this.transaction, request, () => ({ o: 'del', s: this.name, q: plainQuery(query) }));
    return request;
  } as typeof remove;
  const clear = IDBObjectStore.prototype.clear;
  IDBObjectStore.prototype.clear = function (this: IDBObjectStore) {
    const request = clear.call(this);
    record(this.transaction, request, () => ({ o: 'clear', s: this.name }));
    return request;
  } as typeof clear;

  const storeOf = (cursor: IDBCursor) => (cursor.source instanceof IDBIndex ? cursor.source.objectStore : (cursor.source as unknown as IDBObjectStore));
  const update = IDBCursor.prototype.update;
  IDBCursor.prototype.update = function (this: IDBCursor, value: unknown) {
    const store = storeOf(this);
    const key = this.primaryKey;
    const copy = pendingOps.has(store.transaction) ? structuredClone(value) : undefined;
    const request = update.call(this, value);
    record(store.transaction, request, () => ({ o: 'put', s: store.name, key, value: copy }));
    return request;
  } as typeof update;
  const removeAt = IDBCursor.prototype.delete;
  IDBCursor.prototype.delete = function (this: IDBCursor) {
    const store = storeOf(this);
    const key = this.primaryKey;
    const request = removeAt.call(this);
    record(store.transaction, request, () => ({ o: 'del', s: store.name, q: key }));
    return request;
  } as typeof removeAt;
}

const done = (request: IDBRequest | IDBTransaction) =>
  new Promise<void>((resolve, reject) => {
    if (request instanceof IDBRequest) {
      request.addEventListener('success', () => resolve());
      request.addEventListener('error', () => reject(request.error));
    } else {
      request.addEventListener('complete', () => resolve());
      request.addEventListener('abort', () => reject(request.error ?? new Error('transaction aborted')));
    }
  });

/** Rebuilds the databases of a journal in `factory` (before any hook journals them). */
async function replay(factory: IDBFactory, records: JournalRecord[]): Promise<void> {
  const open = new Map<string, IDBDatabase>();
  const connect = async (name: string, schema?: Extract<JournalRecord, { k: 'schema' }>) => {
    open.get(name)?.close();
    open.delete(name);
    const request = factory.open(name, schema?.version);
    if (schema) {
      request.addEventListener('upgradeneeded', () => {
        const db = request.result;
        const tx = request.transaction!;
        for (const name of [...db.objectStoreNames]) if (!schema.stores.some((store) => store.name === name)) db.deleteObjectStore(name);
        for (const spec of schema.stores) {
          const store = db.objectStoreNames.contains(spec.name) ? tx.objectStore(spec.name) : db.createObjectStore(spec.name, { keyPath: spec.keyPath, autoIncrement: spec.autoIncrement });
          for (const name of [...store.indexNames]) if (!spec.indexes.some((index) => index.name === name)) store.deleteIndex(name);
          for (const index of spec.indexes) if (!store.indexNames.contains(index.name)) store.createIndex(index.name, index.keyPath, { unique: index.unique, multiEntry: index.multiEntry });
        }
      });
    }
    await done(request);
    const db = request.result;
    open.set(name, db);
    return db;
  };
  for (const record of records) {
    if (record.k === 'schema') await connect(record.db, record);
    else if (record.k === 'drop') {
      open.get(record.db)?.close();
      open.delete(record.db);
      await done(factory.deleteDatabase(record.db));
    } else {
      const db = open.get(record.db) ?? (await connect(record.db));
      const tx = db.transaction([...new Set(record.ops.map((op) => op.s))], 'readwrite');
      for (const op of record.ops) {
        const store = tx.objectStore(op.s);
        if (op.o === 'put') {
          if (store.keyPath === null) store.put(op.value, op.key);
          else store.put(op.value);
        } else if (op.o === 'del') store.delete(keyRangeOf(op.q)!);
        else store.clear();
      }
      await done(tx);
    }
  }
  for (const db of open.values()) db.close();
}

/** The databases a journal made, as they stand: schema plus one put per record. */
async function snapshot(factory: IDBFactory, records: JournalRecord[]): Promise<JournalRecord[]> {
  const names = new Set<string>();
  for (const record of records) {
    if (record.k === 'drop') names.delete(record.db);
    else names.add(record.db);
  }
  const out: JournalRecord[] = [];
  for (const name of names) {
    const request = factory.open(name);
    await done(request);
    const db = request.result;
    const schema = schemaOf(db as unknown as IDBDatabase);
    out.push(schema);
    if (schema.k === 'schema' && schema.stores.length > 0) {
      const tx = db.transaction(schema.stores.map((store) => store.name), 'readonly');
      const ops: Op[] = [];
      for (const spec of schema.stores) {
        const store = tx.objectStore(spec.name);
        const keys = store.getAllKeys();
        const values = store.getAll();
        await Promise.all([done(keys), done(values)]);
        keys.result.forEach((key, i) => ops.push({ o: 'put', s: spec.name, key, value: values.result[i] }));
      }
      await done(tx);
      if (ops.length > 0) out.push({ k: 'tx', db: name, ops });
    }
    db.close();
  }
  return out;
}
