import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/database.js';
import { createOutboxStore, MAX_RECORD_ENTRIES, type OutboxEntry } from '../src/outbox-store.js';
import { createMessageId } from '../src/message-id.js';

const entry = (id: string = createMessageId()): OutboxEntry => ({ id, room: 'r', type: 'chat', body: '{}', createdAt: Date.now(), attempts: 0 });

describe('outbox store group commit', () => {
  it('stores every entry of many concurrent adds', async () => {
    const factory = new IDBFactory();
    const db = openDatabase(factory, 'group-commit');
    const outbox = createOutboxStore(() => db);
    const entries = Array.from({ length: 500 }, () => entry());
    await Promise.all(entries.map((item) => outbox.add(item)));
    // Read back through a second connection: every resolved add is committed, none is only in memory.
    const other = await openDatabase(factory, 'group-commit');
    const records = await other.getAll('outbox');
    expect(records.flatMap((record) => record.entries.map((e) => e.id)).sort()).toEqual(entries.map((e) => e.id).sort());
    // A burst is packed: far fewer records than entries, none over the cap.
    expect(records.length).toBeLessThanOrEqual(Math.ceil(500 / MAX_RECORD_ENTRIES) + 1);
    expect(Math.max(...records.map((record) => record.entries.length))).toBeLessThanOrEqual(MAX_RECORD_ENTRIES);
    other.close();
    (await db).close();
  });

  it('rejects every add of a group whose transaction aborted, and keeps accepting later adds', async () => {
    const db = openDatabase(new IDBFactory(), 'group-abort');
    const outbox = createOutboxStore(() => db);
    await outbox.add(entry());
    // While the first write below is in flight, the next two share one transaction; the entry that
    // cannot be stored (a value IndexedDB cannot clone) aborts it.
    const first = outbox.add(entry());
    await Promise.resolve(); // a later turn: the first write has started
    const group = [outbox.add(entry()), outbox.add({ ...entry(), body: (() => '{}') as unknown as string })];
    const outcomes = Promise.allSettled(group);
    await first;
    expect((await outcomes).map((o) => o.status)).toEqual(['rejected', 'rejected']);
    const later = entry();
    await outbox.add(later);
    expect(await outbox.list()).toHaveLength(3);
    (await db).close();
  });
});

describe('outbox records (a write’s entries packed per room)', () => {
  const inRoom = (room: string, id: string = createMessageId()): OutboxEntry => ({ ...entry(id), room });

  it('lists two tabs’ interleaved writes in id order, room by room', async () => {
    const factory = new IDBFactory();
    const tabA = createOutboxStore(() => openDatabase(factory, 'interleave'));
    const tabB = createOutboxStore(() => openDatabase(factory, 'interleave'));
    const ids = Array.from({ length: 6 }, () => createMessageId());
    // Tab A writes 1, 3, 5 in one transaction; tab B 2, 4 in another; 6 goes to a second room.
    await Promise.all([tabA.add(inRoom('r', ids[0])), tabA.add(inRoom('r', ids[2])), tabA.add(inRoom('r', ids[4])), tabA.add(inRoom('s', ids[5]))]);
    await Promise.all([tabB.add(inRoom('r', ids[1])), tabB.add(inRoom('r', ids[3]))]);
    expect((await tabB.list('r')).map((e) => e.id)).toEqual(ids.slice(0, 5));
    expect((await tabA.list()).map((e) => [e.room, e.id])).toEqual([...ids.slice(0, 5).map((id) => ['r', id]), ['s', ids[5]]]);
  });

  it('removes and counts attempts of single entries inside a record, and each removal is reported by one store only', async () => {
    const factory = new IDBFactory();
    const tabA = createOutboxStore(() => openDatabase(factory, 'edit'));
    const tabB = createOutboxStore(() => openDatabase(factory, 'edit'));
    const entries = Array.from({ length: 5 }, () => inRoom('r'));
    await Promise.all(entries.map((item) => tabA.add(item)));
    const [listedA, listedB] = [await tabA.list('r'), await tabB.list('r')];

    await tabA.countAttempt([listedA[1]!, listedA[3]!]);
    expect((await tabB.list('r')).map((e) => e.attempts)).toEqual([0, 1, 0, 1, 0]);

    // Both tabs try to remove the first (and second) entry; only one hears it was there.
    const [removedA, removedB] = await Promise.all([tabA.remove([listedA[0]!, listedA[1]!]), tabB.remove([listedB[0]!])]);
    expect([...removedA, ...removedB].map((e) => e.id).sort()).toEqual([entries[0]!.id, entries[1]!.id].sort());
    expect((await tabA.list('r')).map((e) => [e.id, e.attempts])).toEqual([[entries[2]!.id, 0], [entries[3]!.id, 1], [entries[4]!.id, 0]]);

    // Keys the store never listed (plain objects) are found by reading their room.
    expect(await tabB.remove([{ room: 'r', id: entries[3]!.id }, { room: 'r', id: 'never-queued' }])).toEqual([{ room: 'r', id: entries[3]!.id }]);
    // A removal of the record's first entry keeps its place: what is left stays in order, then goes too.
    expect((await tabA.remove(await tabA.list('r'))).length).toBe(2);
    expect(await (await openDatabase(factory, 'edit')).count('outbox')).toBe(0);
  });
});
