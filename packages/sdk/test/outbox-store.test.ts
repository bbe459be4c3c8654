import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/database.js';
import { createOutboxStore, type OutboxEntry } from '../src/outbox-store.js';
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
    expect((await other.getAllKeys('outbox')).map(([, id]) => id).sort()).toEqual(entries.map((e) => e.id).sort());
    other.close();
    (await db).close();
  });

  it('rejects every add of a group whose transaction aborted, and keeps accepting later adds', async () => {
    const db = openDatabase(new IDBFactory(), 'group-abort');
    const outbox = createOutboxStore(() => db);
    await outbox.add(entry('taken'));
    // While the first write below is in flight, the next two share one transaction; the duplicate aborts it.
    const first = outbox.add(entry());
    await Promise.resolve(); // a later turn: the first write has started
    const group = [outbox.add(entry()), outbox.add(entry('taken'))];
    await first;
    const outcomes = await Promise.allSettled(group);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    const later = entry();
    await outbox.add(later);
    expect(await outbox.list()).toHaveLength(3);
    (await db).close();
  });
});
