/**
 * Regression test (review of issue 11): `from: 'now'` on a profile with no cache yet commits the shared
 * cursor at the log head with no messages (room.ts #startAtHead → #commit(view, 0, [])). The
 * commit's guard (`stored.lastSeq >= from`, with from = 0) lets it jump over a cursor another tab
 * already built: the cache now claims messages it does not hold. A third tab opening then gets
 * history() = what was really cached, and events after the head: a silent gap.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import type { IDBFactory } from 'fake-indexeddb';
import { closeAllClients, newDevice, record, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let relay: InProcessRelay;
let proxy: TcpProxy;

beforeAll(async () => {
  relay = await startRelay();
  proxy = await startTcpProxy(relay.port);
});
afterEach(async () => {
  proxy.dropServerFrames(undefined);
  await closeAllClients();
});
afterAll(async () => {
  await proxy.close();
  await relay.close();
});

/** The shared cursor of a room, read straight from IndexedDB. */
function cursorOf(device: IDBFactory, room: string): Promise<{ lastSeq: number } | undefined> {
  return new Promise((resolve, reject) => {
    const request = device.open('partyline');
    request.onsuccess = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('cursors')) {
        db.close();
        return resolve(undefined);
      }
      const get = db.transaction('cursors').objectStore('cursors').get(room);
      get.onsuccess = () => {
        db.close();
        resolve(get.result);
      };
      get.onerror = () => reject(get.error);
    };
    request.onerror = () => reject(request.error);
  });
}

describe('from: now on a fresh profile, next to a tab that is filling the cache', () => {
  it('never moves the shared cursor over messages the cache does not hold', async () => {
    const name = `now-${Date.now()}`;
    const sender = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const handles = [];
    for (let i = 1; i <= 10; i++) handles.push(await sender.room(name).publish('chat', { i }));
    await Promise.all(handles.map((handle) => handle.sent));

    const device = newDevice();
    // Tab B: from 'now', its token arrives late (a token endpoint round trip, a slow network).
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const token = await tokenFor('bob');
    const tabB = testClient({ relays: [relay.url], token: async () => (await gate, token), indexedDB: device });
    const roomB = tabB.room(name, { from: 'now' });
    expect(await roomB.history()).toEqual([]); // B's view is open: no cache yet

    // Tab A: from the beginning, small pages; the answer to its second page is lost on the way (a stall).
    proxy.dropServerFrames((text) => text.includes('"hasMore"') && text.includes('"seq":3,'));
    const tabA = testClient({ relays: [proxy.url], token: await tokenFor('bob'), indexedDB: device, pageSize: 2, requestTimeoutMs: 30_000 });
    tabA.room(name);
    await waitFor(async () => (await cursorOf(device, name))?.lastSeq === 2, 'tab A cached 1..2');

    release(); // B connects and joins at the head
    await waitFor(async () => (await cursorOf(device, name))?.lastSeq !== 2, 'the cursor moved');
    const cursorAfterB = (await cursorOf(device, name))?.lastSeq;

    // Tab C opens now, from the beginning.
    const tabC = testClient({ relays: [relay.url], token: await tokenFor('bob'), indexedDB: device });
    const roomC = tabC.room(name);
    const seen = record(roomC);
    const history = (await roomC.history()).map((message) => message.seq);
    await (await sender.room(name).publish('chat', { i: 'sentinel' })).sent;
    await waitFor(() => seen.seqs().includes(11), 'tab C got the sentinel');
    const view = [...history, ...seen.seqs()];
    const expected = Array.from({ length: view.at(-1)! - view[0]! + 1 }, (_, i) => view[0]! + i);
    expect(view, `cursor moved to ${cursorAfterB} by tab B; tab C history [${history}] then events [${seen.seqs()}]`).toEqual(expected);
  });
});
