import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import type { LogMessage } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { openDatabase } from '../src/database.js';
import { createInboxStore, type InboxStore } from '../src/inbox-store.js';
import type { ResetContext } from '../src/room.js';
import { createScheduler } from '../src/scheduler.js';
import { fakeRelayRoom, logMessage as message, takeRequest } from './support/fake-relay-room.js';

// Chaos run (300 clients, --crash, everysec): "unexplained reset: diverged (toSeq 1050) at position
// 500, but the log still holds all 500 messages the view had". The room's machine decides on pages as
// they come; its deliveries (cache write, then the app) run later as local steps. A client closed while
// some were still queued withheld them, yet still told the reset decided on the view they would have
// made — a toSeq the app never reached — and restarted the cache under a view the log still holds.
// Here the relay is faked at the transport and the cache is the real one (fake-indexeddb) with its
// first write held, so the reset is decided exactly while the deliveries before it wait.
const page = (messages: LogMessage[], headSeq: number, hasMore = false) => ({ ok: true, room: 'r', epoch: 'e1', firstSeq: 1, headSeq, hasMore, messages });

const scheduler = createScheduler(systemClock, () => 10);
afterEach(() => scheduler.close());

describe('a reset decided while deliveries wait', () => {
  it('is not told when the room closes before they are handed; the next session goes on from what was handed', async () => {
    const database = openDatabase(new IDBFactory(), 'reset-follows-handed-view');
    const real = createInboxStore(() => database);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let resets = 0;
    // The first cache write waits until the test releases it (a busy IndexedDB).
    const inbox: InboxStore = { ...real, commit: async (...args) => (await held, real.commit(...args)), reset: (...args) => (resets++, real.reset(...args)) };

    const first = fakeRelayRoom(scheduler, { inbox, pageSize: 3 });
    const handed: number[] = [];
    const told: ResetContext[] = [];
    first.room.on('message', ({ seq }) => handed.push(seq));
    first.room.on('reset', (reset) => told.push(reset));
    expect(await first.room.history()).toEqual([]);
    first.room._connected();
    (await takeRequest(first.asked, 'the join')).answer(page([1, 2, 3].map((seq) => message(seq)), 6, true));
    (await takeRequest(first.asked, 'the read after 3')).answer(page([4, 5, 6].map((seq) => message(seq)), 6, true));
    // The log lost 6 (a Redis crash dropped its unsynced tail): decided against the machine's view at 6.
    (await takeRequest(first.asked, 'the read after 6')).answer(page([], 5));
    await waitFor(() => first.room._inspect().lastSeq === 0, 'the machine restarted its view');

    first.room._close(); // the app closes while 1..3 are being stored and 4..6 wait
    release();
    await first.room._idle();
    expect(handed).toEqual([1, 2, 3]);
    // The app holds 1..3, all still in the log: nothing to reset, and the cache keeps them.
    expect(told).toEqual([]);
    expect(resets).toBe(0);

    // The next session: history() is what was handed, and the log continues it (6 is a new message now).
    const second = fakeRelayRoom(scheduler, { inbox: real, pageSize: 3 });
    const later: string[] = [];
    const toldLater: ResetContext[] = [];
    second.room.on('message', ({ id }) => later.push(id));
    second.room.on('reset', (reset) => toldLater.push(reset));
    expect((await second.room.history()).map(({ seq }) => seq)).toEqual([1, 2, 3]);
    second.room._connected();
    const join = await takeRequest(second.asked, 'the second session’s join');
    expect(join.payload).toMatchObject({ since: 3, sinceId: 'm3', epoch: 'e1' });
    join.answer(page([message(4), message(5), message(6, 'n6')], 6));
    await waitFor(() => later.length === 3, 'the rest of the log');
    expect(later).toEqual(['m4', 'm5', 'n6']);
    expect(toldLater).toEqual([]);
    second.room._close();
    await second.room._idle();
    (await database).close();
  });
});
