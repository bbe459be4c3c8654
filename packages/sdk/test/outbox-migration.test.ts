/**
 * Database versions 1 and 2 → 3 (version 2 keyed the outbox by `[room, id]` instead of `id` + a `room`
 * index; version 3 packs a write's entries into one record): messages an older SDK queued survive the
 * upgrade and reach a real relay exactly once, in publish order; an upgrade that fails midway leaves
 * the old version whole.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import type { StatusContext } from '../src/index.js';
import { createMessageId } from '../src/message-id.js';
import type { OutboxEntry } from '../src/outbox-store.js';
import { closeAllClients, newDevice, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

let relay: InProcessRelay;
let counter = 0;
const nextRoom = () => `migrate-${++counter}-${Date.now()}`;

beforeAll(async () => {
  relay = await startRelay();
});
afterEach(() => closeAllClients());
afterAll(() => relay.close());

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** A database exactly as the version-1 (or 2) SDK made it, holding `entries` in its outbox and one cursor. */
async function createOld(factory: IDBFactory, entries: OutboxEntry[], version: 1 | 2 = 1): Promise<void> {
  const request = factory.open('partyline', version);
  request.onupgradeneeded = () => {
    const db = request.result;
    if (version === 1) db.createObjectStore('outbox', { keyPath: 'id' }).createIndex('room', 'room');
    else db.createObjectStore('outbox', { keyPath: ['room', 'id'] });
    db.createObjectStore('inbox', { keyPath: ['room', 'seq'] }).createIndex('room', 'room');
    db.createObjectStore('cursors', { keyPath: 'room' });
  };
  const db = await done(request);
  const tx = db.transaction(['outbox', 'cursors'], 'readwrite');
  for (const entry of entries) tx.objectStore('outbox').add(entry);
  tx.objectStore('cursors').put({ room: 'elsewhere', epoch: 'e1', lastSeq: 7 });
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onabort = () => reject(tx.error);
  });
  db.close();
}

/** The database as it is now, read without the SDK (opened at whatever version it has). */
async function readRaw(factory: IDBFactory) {
  const db = await done(factory.open('partyline'));
  const tx = db.transaction(['outbox', 'cursors'], 'readonly');
  const outbox = tx.objectStore('outbox');
  const state = {
    version: db.version,
    keyPath: outbox.keyPath,
    indexes: [...outbox.indexNames],
    entries: await done(outbox.getAll()),
    cursors: await done(tx.objectStore('cursors').getAll()),
  };
  db.close();
  return state;
}

const queued = (room: string, n: number, extra: Partial<OutboxEntry> = {}): OutboxEntry => ({
  id: createMessageId(),
  room,
  type: 'chat',
  body: JSON.stringify({ n }),
  createdAt: Date.now(),
  attempts: 0,
  sender: 'alice',
  ...extra,
});

describe.each([1, 2] as const)('outbox schema %i → 3', (version) => {
  it('sends every message an older outbox held to a real relay exactly once, in publish order', async () => {
    const device = newDevice();
    const [a, b] = [nextRoom(), nextRoom()];
    // Interleaved across two rooms, one entry per record as older outboxes held them; one was tried before.
    const entries = [queued(a, 1), queued(b, 1), queued(a, 2, { attempts: 2 }), queued(b, 2), queued(a, 3)];
    await createOld(device, entries, version);

    const client = testClient({ relays: [relay.url], token: await tokenFor('alice'), indexedDB: device });
    const statuses: StatusContext[] = [];
    client.on('status', (status) => statuses.push(status));
    client.room(a);
    client.room(b);
    await waitFor(() => statuses.length >= entries.length, 'every migrated entry settled');
    await waitFor(async () => (await client.inspect()).outbox.length === 0, 'outbox empty');

    const ids = (room: string) => entries.filter((entry) => entry.room === room).map((entry) => entry.id);
    for (const room of [a, b]) {
      const log = await relay.relay.store.read(room, 0, 100);
      expect(log.messages.map((message) => [message.id, message.sender, message.body])).toEqual(
        entries.filter((entry) => entry.room === room).map((entry) => [entry.id, 'alice', entry.body]),
      );
      expect(log.headSeq).toBe(ids(room).length);
    }
    expect(statuses.map((status) => status.status)).toEqual(entries.map(() => 'sent'));
    expect(new Set(statuses.map((status) => status.id))).toEqual(new Set(entries.map((entry) => entry.id)));

    await client.close();
    const after = await readRaw(device);
    expect(after).toMatchObject({ version: 3, keyPath: ['room', 'id'], indexes: [], entries: [] });
    // The other stores keep what they had.
    expect(after.cursors).toContainEqual({ room: 'elsewhere', epoch: 'e1', lastSeq: 7 });
  });

  it('keeps the entries queued (with their attempts) for a client that cannot send yet, listed room by room', async () => {
    const device = newDevice();
    const [a, b] = [nextRoom(), nextRoom()];
    const entries = [queued(b, 1), queued(a, 1, { attempts: 3 }), queued(b, 2)];
    await createOld(device, entries, version);
    const dead = await startRelay();
    await dead.close();

    const client = testClient({ relays: [dead.url], token: await tokenFor('alice'), indexedDB: device });
    expect((await client.room(a).pending()).map((entry) => [entry.id, entry.attempts])).toEqual([[entries[1]!.id, 3]]);
    expect((await client.room(b).pending()).map((entry) => entry.id)).toEqual([entries[0]!.id, entries[2]!.id]);
    // inspect() lists the whole outbox in publish order.
    expect((await client.inspect()).outbox).toEqual([...entries].sort((x, y) => (x.id < y.id ? -1 : 1)));
    // Stored as version 3 holds them: each old entry a record of its own, under its old key.
    const raw = await readRaw(device);
    expect(raw.version).toBe(3);
    expect(raw.entries).toHaveLength(entries.length);
    expect(raw.entries).toEqual(expect.arrayContaining(entries.map((entry) => ({ room: entry.room, id: entry.id, entries: [entry] }))));
  });

  it('leaves the old version whole when the upgrade fails midway, and upgrades on the next open', async () => {
    const device = newDevice();
    const room = nextRoom();
    const entries = [queued(room, 1), queued(room, 2), queued(room, 3)];
    await createOld(device, entries, version);

    // The second write-back fails (a full disk, say): the upgrade transaction aborts as a whole.
    const put = IDBObjectStore.prototype.put;
    let puts = 0;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (++puts === 2) throw new DOMException('no space left (test)', 'QuotaExceededError');
      return put.apply(this, args);
    };
    const failing = testClient({ relays: [relay.url], token: await tokenFor('alice'), indexedDB: device });
    try {
      await expect(failing.room(room).pending()).rejects.toThrow();
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    await failing.close();
    const untouched = await readRaw(device);
    expect(untouched).toMatchObject({ version, keyPath: version === 1 ? 'id' : ['room', 'id'], indexes: version === 1 ? ['room'] : [] });
    expect(untouched.entries).toEqual(entries);

    // The next session upgrades and sends them, once each.
    const client = testClient({ relays: [relay.url], token: await tokenFor('alice'), indexedDB: device });
    client.room(room);
    await waitFor(async () => (await relay.relay.store.read(room, 0, 0)).headSeq === 3, 'the three sent');
    await waitFor(async () => (await client.inspect()).outbox.length === 0, 'outbox empty');
    expect((await relay.relay.store.read(room, 0, 100)).messages.map((message) => message.id)).toEqual(entries.map((entry) => entry.id));
  });
});
