/**
 * The profile's message cache is bounded by bytes per room (`inboxMaxBytes`, production-deployment
 * finding: it grew without bound and survived reloads). The oldest messages go, the newest run
 * stays, and the app's view never skips or repeats: a reload resumes right after the newest message,
 * its history() starts at the oldest one kept, and loadOlder() reads what came before from the relay.
 * A real relay (memory store), Node clients over fake-indexeddb.
 */
import { waitFor } from '@partyline/test-support';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type PartylineDatabase, type RoomCursor } from '../src/database.js';
import { createInboxStore } from '../src/inbox-store.js';
import type { RoomMessage } from '../src/index.js';
import { bytesOf } from '../src/message-bytes.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, newDevice, range, record, testClient } from './support/sdk-client.js';

/** Room for about 25 of the ~330-byte messages below. */
const BOUND = 8_000;

let relay: InProcessRelay;
beforeAll(async () => void (relay = await startRelay()));
afterEach(closeAllClients);
afterAll(() => relay.close());

const seqs = (messages: readonly { seq: number }[]) => messages.map((message) => message.seq);
const roomRange = (room: string) => IDBKeyRange.bound([room, 0], [room, Number.MAX_SAFE_INTEGER]);

async function cacheOf(db: PartylineDatabase, room: string): Promise<{ cursor: RoomCursor | undefined; seqs: number[]; bytes: number }> {
  const messages = await db.getAll('inbox', roomRange(room));
  return { cursor: await db.get('cursors', room), seqs: seqs(messages), bytes: bytesOf(messages) };
}

describe('the message cache bounded by bytes', () => {
  it('keeps the newest run within inboxMaxBytes; a reload resumes with no gap or duplicate, and loadOlder() reaches seq 1', async () => {
    const name = `inbox-bounds-${Date.now()}`;
    const device = newDevice();
    const alice = testClient({ relays: [relay.url], token: await tokenFor('alice') }).room(name);
    const publish = async (from: number, to: number) => {
      const handles = [];
      for (let i = from; i <= to; i++) handles.push(await alice.publish('chat', { i, pad: 'p'.repeat(200) }));
      await Promise.all(handles.map((handle) => handle.sent));
    };

    const first = testClient({ relays: [relay.url], token: await tokenFor('bob'), indexedDB: device, inboxMaxBytes: BOUND });
    const room = first.room(name);
    const seen = record(room);
    expect(await room.history()).toEqual([]);
    await publish(1, 100);
    await waitFor(() => seen.messages.length === 100, 'all 100 handed');
    expect(seen.seqs()).toEqual(range(1, 100));

    const db = await openDatabase(device, 'partyline');
    await waitFor(async () => (await db.get('cursors', name))?.lastSeq === 100, 'the cache at 100');
    const cache = await cacheOf(db, name);
    db.close();
    const oldest = cache.seqs[0]!;
    console.log(`[inbox-bounds] 100 messages handed, ${cache.seqs.length} cached (${cache.bytes} bytes, bound ${BOUND})`);
    expect(cache.bytes).toBeLessThanOrEqual(BOUND);
    expect(cache.bytes).toBeGreaterThan(BOUND - 400); // as many of the newest as fit
    expect(cache.seqs).toEqual(range(oldest, 100));
    expect(cache.cursor).toMatchObject({ lastSeq: 100, bytes: cache.bytes });
    await first.close();

    // Away while 101..110 are published; then a reload of the same profile.
    await publish(101, 110);
    const second = testClient({ relays: [relay.url], token: await tokenFor('bob'), indexedDB: device, inboxMaxBytes: BOUND });
    const reloaded = second.room(name);
    const events = record(reloaded);
    const history = await reloaded.history();
    expect(seqs(history)).toEqual(range(oldest, 100));
    await waitFor(() => events.messages.length === 10, 'what came while away');
    expect(events.seqs()).toEqual(range(101, 110));

    // Scrolling back goes past what the cache let go, to seq 1, without a seam.
    const older: RoomMessage[] = [];
    for (let more = true; more; ) {
      const page = await reloaded.loadOlder(30);
      older.unshift(...page.messages);
      more = page.hasMore;
    }
    expect(seqs([...older, ...history, ...events.messages])).toEqual(range(1, 110));
    // history() answers as far as the cache keeps, and loadOlder() continues exactly before it again.
    const again = await reloaded.history();
    expect(seqs(again)).toEqual(range(again[0]!.seq, 110));
    expect(seqs((await reloaded.loadOlder(5)).messages)).toEqual(range(again[0]!.seq - 5, again[0]!.seq - 1));

    const after = await openDatabase(device, 'partyline');
    const bounded = await cacheOf(after, name);
    after.close();
    expect(bounded.bytes).toBeLessThanOrEqual(BOUND);
    expect(bounded.seqs).toEqual(range(bounded.seqs[0]!, 110));
  });

  it('measures and cuts a cache an older SDK version grew without bound, on its next write', async () => {
    const factory = new IDBFactory();
    const database = openDatabase(factory, 'legacy');
    const db = await database;
    const message = (seq: number) => ({ room: 'r', seq, id: `m${seq}`, type: 'chat', body: JSON.stringify({ seq, pad: 'p'.repeat(200) }), sender: 'bob', ts: 0 });
    // As an older version left it: every message, and a cursor without a size.
    const legacy = db.transaction(['inbox', 'cursors'], 'readwrite');
    for (let seq = 1; seq <= 1_000; seq++) void legacy.objectStore('inbox').put(message(seq));
    void legacy.objectStore('cursors').put({ room: 'r', epoch: 'e1', lastSeq: 1_000, lastId: 'm1000', branch: '' });
    await legacy.done;

    const { room, ...next } = message(1_001);
    await createInboxStore(() => database).commit({ room, epoch: 'e1', lastSeq: 1_001, lastId: 'm1001', branch: '' }, 1_000, [next], { inboxLimit: Infinity, inboxMaxBytes: BOUND });
    const cache = await cacheOf(db, 'r');
    expect(cache.bytes).toBeLessThanOrEqual(BOUND);
    expect(cache.seqs).toEqual(range(cache.seqs[0]!, 1_001));
    expect(cache.cursor).toMatchObject({ lastSeq: 1_001, bytes: cache.bytes });
    db.close();
  });
});
